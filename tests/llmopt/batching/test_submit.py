"""``submit`` records and creates batches without waiting, and never pays twice for a request."""

from __future__ import annotations

import anthropic
import pytest

from llmopt.batching import fingerprint
from llmopt.sandbox import BatchOptions, SandboxServer
from llmopt.store import BatchStatus, SQLiteStore

from .conftest import MODEL, Time, ask, batch_client, ledger, words

# Five requests at a time, ten seconds a wave: a batch is still running at the next submit.
SLOW = {"batches": BatchOptions(item_seconds=10, parallelism=5)}
pytestmark = pytest.mark.parametrize("sandbox_options", [SLOW])


async def test_submitting_the_same_requests_twice_pays_for_them_once(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask(words(n + 1)) for n in range(10)]
    [first] = await batch_client(client, store, time).submit(requests)
    time.clock.advance(5)  # the first batch is still running

    again = await batch_client(client, store, time).submit(requests)
    time.clock.advance(120)
    await batch_client(client, store, time).resume(wait=True)

    billing = sandbox.billing().total
    assert billing.batch_requests_succeeded == billing.requests_succeeded == 10
    assert [record.id for record in again] == [first.id]  # the batch that holds them
    [record] = ledger(store)
    assert record.status is BatchStatus.ENDED


async def test_a_second_submit_sends_only_what_no_running_batch_holds(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    [first] = await batch_client(client, store, time).submit([ask("one"), ask("two")])

    created, holding = await batch_client(client, store, time).submit([ask("two"), ask("three")])

    assert holding.id == first.id
    assert set(created.requests.values()) == {fingerprint({**ask("three").params, "model": MODEL})}
    time.clock.advance(120)
    await batch_client(client, store, time).resume(wait=True)
    assert sandbox.billing().total.batch_requests_succeeded == 3


async def test_identical_requests_in_one_submit_are_sent_once(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    [record] = await batch_client(client, store, time).submit([ask("same"), ask("same")])

    assert len(record.requests) == 1
    time.clock.advance(120)
    await batch_client(client, store, time).resume(wait=True)
    assert sandbox.billing().total.batch_requests_succeeded == 1
