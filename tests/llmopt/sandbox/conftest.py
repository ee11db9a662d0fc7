from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import pytest

from llmopt.sandbox import ManualClock, SandboxServer, running_sandbox

MODEL = "claude-sonnet-4-6"  # minimum cacheable prefix: 1,024 tokens
EPHEMERAL: dict[str, Any] = {"type": "ephemeral"}
ONE_HOUR: dict[str, Any] = {"type": "ephemeral", "ttl": "1h"}


def words(count: int, word: str = "lorem") -> str:
    """Text the sandbox counts as exactly ``count`` tokens."""
    return " ".join([word] * count)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    base_url: str,
    path: str,
    body: Any = None,
    *,
    method: str = "POST",
    api_key: str | None = "test-key",
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """One HTTP request with the standard library, errors returned rather than raised."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    sent = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
    if api_key is not None:
        sent["x-api-key"] = api_key
    sent.update(headers or {})
    request = urllib.request.Request(base_url + path, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return RawResponse(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        with error:
            return RawResponse(
                error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
            )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[SandboxServer]:
    with running_sandbox(clock=clock) as server:
        yield server


def sdk_client(
    base_url: str, *, api_key: str = "test-key", max_retries: int = 0
) -> anthropic.Anthropic:
    """The real SDK client, pointed at the sandbox. Close it (``with``) when done."""
    # The sandbox speaks plain HTTP, so no certificates need loading: that makes a client
    # cost a millisecond instead of ~50.
    return anthropic.Anthropic(
        base_url=base_url,
        api_key=api_key,
        max_retries=max_retries,
        http_client=anthropic.DefaultHttpxClient(verify=False),
    )


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[anthropic.Anthropic]:
    with sdk_client(sandbox.base_url, api_key=sandbox.api_key) as sdk:
        yield sdk


def batch_item(custom_id: str, content: str = "Hello", **params: Any) -> dict[str, Any]:
    """One Message Batches request: a short question to ``MODEL`` unless told otherwise."""
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 20,
        "messages": [{"role": "user", "content": content}],
    }
    body.update(params)
    return {"custom_id": custom_id, "params": body}


def batch_items(count: int, prefix: str = "item") -> list[dict[str, Any]]:
    """``count`` requests with ids ``item-0``... and questions that differ."""
    return [batch_item(f"{prefix}-{i}", f"Question number {i}?") for i in range(count)]


def results_of(client: anthropic.Anthropic, batch_id: str) -> dict[str, Any]:
    """The batch's results through the SDK, by custom_id (each a ``result`` object)."""
    return {line.custom_id: line.result for line in client.messages.batches.results(batch_id)}
