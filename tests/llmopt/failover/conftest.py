from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic

from llmopt.failover import CircuitBoard
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.store import SQLiteStore

MODEL = "claude-sonnet-4-6"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = {"failureThreshold": 3, "windowSeconds": 60, "coolDownSeconds": 30}


class Clock:
    """A clock that moves only when told to, safe to read from many threads."""

    def __init__(self, now: datetime = START) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite3"


@pytest.fixture
def store(store_path: Path, clock: Clock) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(store_path, clock=clock)
    yield opened
    opened.close()


def make_board(store: Any, clock: Clock, name: str, **settings: Any) -> CircuitBoard:
    """A board standing for process ``name``; not started (tests call ``refresh()``)."""
    return CircuitBoard(store, {**SETTINGS, **settings}, clock=clock, process_id=name)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture
def backup_sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def chat(sandbox: SandboxServer, **options: Any) -> ChatAnthropic:
    """ChatAnthropic against ``sandbox``, without SDK retries unless told."""
    settings: dict[str, Any] = {"max_tokens": 32, "max_retries": 0, **options}
    return ChatAnthropic(  # type: ignore[call-arg]
        model=MODEL, base_url=sandbox.base_url, api_key=sandbox.api_key, **settings
    )
