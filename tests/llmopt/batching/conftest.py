from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import anthropic
import pytest

from llmopt.batching import AnthropicBatchClient, BatchRequest
from llmopt.sandbox import ManualClock, SandboxServer, running_sandbox
from llmopt.store import BatchRecord, SQLiteStore, Store, StoredResult

MODEL = "claude-sonnet-4-6"
ENTRY = "entry-1"


class Time:
    """One fake time for the sandbox and the batch client: sleeping moves it, instantly."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


class SpyStore:
    """A store that counts how often each answer was stored (all else passes through)."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.puts: dict[str, int] = {}
        self._lock = threading.Lock()

    def put_result(self, result: StoredResult) -> None:
        with self._lock:
            self.puts[result.fingerprint] = self.puts.get(result.fingerprint, 0) + 1
        self._inner.put_result(result)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def ask(text: str, **params: Any) -> BatchRequest:
    """A request; its input tokens grow with ``text``'s word count (one token a word)."""
    return BatchRequest(
        params={"max_tokens": 32, "messages": [{"role": "user", "content": text}], **params}
    )


def words(count: int, word: str = "lorem") -> str:
    return " ".join([word] * count)


def sdk(sandbox: SandboxServer) -> anthropic.AsyncAnthropic:
    """The real async SDK against the sandbox, without its own retries (they sleep for real)."""
    return anthropic.AsyncAnthropic(
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(verify=False),
    )


def batch_client(
    client: anthropic.AsyncAnthropic, store: Store, time: Time, **options: Any
) -> AnthropicBatchClient:
    settings: dict[str, Any] = {
        "entry_key": ENTRY,
        "model": MODEL,
        "poll_initial": 1.0,
        "poll_max": 8.0,
        "clock": time.now,
        "sleep": time.sleep,
        "rng": random.Random(0),
        **options,
    }
    return AnthropicBatchClient(client, store, **settings)


def ledger(store: Store) -> list[BatchRecord]:
    return store.list_batches(entry_key=ENTRY, limit=1000)


@pytest.fixture
def time() -> Time:
    return Time()


@pytest.fixture
def store(time: Time) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(":memory:", clock=time.now)
    yield opened
    opened.close()


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """Override in a test module (or parametrize) to start the sandbox differently."""
    return {}


@pytest.fixture
def sandbox(time: Time, sandbox_options: dict[str, Any]) -> Iterator[SandboxServer]:
    with running_sandbox(clock=time.clock, **sandbox_options) as server:
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    opened = sdk(sandbox)
    yield opened
    await opened.close()
