"""A create call whose answer never arrives: the batch may or may not exist.

The SDK would resend it (no idempotency key) and a second batch would be billed again;
the client instead looks for the batch first and resends only when there is none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import anthropic
import httpx2
import pytest

from llmopt.sandbox import SandboxServer
from llmopt.store import BatchStatus, SQLiteStore

from .conftest import Time, ask, batch_client, ledger

Loss = Literal["answer", "request"]


class LossyTransport(httpx2.AsyncHTTPTransport):
    """Loses the first batch create: its answer (the batch exists) or the request itself."""

    def __init__(self, loss: Loss) -> None:
        super().__init__()
        self.loss = loss
        self.creates = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path == "/v1/messages/batches":
            self.creates += 1
            if self.creates == 1:
                if self.loss == "request":
                    raise httpx2.ConnectError("connection reset", request=request)
                response = await super().handle_async_request(request)
                await response.aread()
                await response.aclose()
                raise httpx2.ReadTimeout("the answer was lost", request=request)
        return await super().handle_async_request(request)


@pytest.fixture
async def lossy(
    sandbox: SandboxServer, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[anthropic.AsyncAnthropic, LossyTransport]]:
    transport = LossyTransport(request.param)
    client = anthropic.AsyncAnthropic(
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        max_retries=2,  # the SDK's default: it would resend the create
        http_client=httpx2.AsyncClient(transport=transport),
    )
    yield client, transport
    await client.close()


async def provider_batches(client: anthropic.AsyncAnthropic) -> list[str]:
    return [batch.id async for batch in client.messages.batches.list()]


@pytest.mark.parametrize(
    ("lossy", "creates"),
    [
        pytest.param("answer", 1, id="created-but-answer-lost:found-not-created-again"),
        pytest.param("request", 2, id="never-arrived:sent-again-once-nothing-was-found"),
    ],
    indirect=["lossy"],
)
async def test_a_create_without_an_answer_ends_as_exactly_one_batch_paid_once(
    lossy: tuple[anthropic.AsyncAnthropic, LossyTransport],
    creates: int,
    store: SQLiteStore,
    time: Time,
    sandbox: SandboxServer,
) -> None:
    client, transport = lossy

    outcomes = await batch_client(client, store, time).run([ask("one"), ask("two")])

    assert [o.source for o in outcomes] == ["batch", "batch"]
    assert transport.creates == creates
    [record] = ledger(store)
    assert await provider_batches(client) == [record.provider_batch_id]
    assert record.status is BatchStatus.ENDED
    assert sandbox.billing().total.requests_succeeded == 2
