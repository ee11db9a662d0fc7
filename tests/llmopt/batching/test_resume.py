from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import anthropic
import pytest

from llmopt.batching import fingerprint
from llmopt.batching._requests import prepare_requests
from llmopt.errors import ProviderError
from llmopt.sandbox import BatchItemFault, BatchOptions, SandboxServer
from llmopt.store import BatchRecord, BatchStatus, SQLiteStore

from .conftest import ENTRY, MODEL, SpyStore, Time, ask, batch_client, ledger, sdk, words

SLOW = {"batches": BatchOptions(item_seconds=10, parallelism=5)}
pytestmark = pytest.mark.parametrize("sandbox_options", [SLOW])


async def test_a_fresh_client_collects_what_a_crashed_one_left_in_flight(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask(words(n + 1)) for n in range(25)]
    crashed = batch_client(client, store, time, max_requests=10)
    submitted = await crashed.submit(requests)
    assert [r.status for r in submitted] == [BatchStatus.IN_PROGRESS] * 3
    # The process dies here, with three batches running. Later, a new one starts:
    time.clock.advance(120)
    fresh = batch_client(client, store, time)

    collected = await fresh.resume(wait=True)

    assert sorted(r.id for r in collected) == sorted(r.id for r in submitted)
    assert all(r.status is BatchStatus.ENDED for r in ledger(store))
    outcomes = await fresh.run(requests)
    assert [o.source for o in outcomes] == ["reused"] * 25
    billing = sandbox.billing().total
    assert billing.batch_requests_succeeded == billing.requests_succeeded == 25


async def test_requests_resent_while_a_crashed_clients_batches_run_wait_for_those_batches(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask(words(n + 1)) for n in range(25)]
    crashed = batch_client(client, store, time, max_requests=10)
    submitted = await crashed.submit(requests)
    # The process dies with three batches running; a new one sends the same work (and
    # one more request) before anything has collected them.
    time.clock.advance(5)
    fresh = batch_client(client, store, time)

    outcomes = await fresh.run([*requests, ask("and one request nobody sent before")])

    assert all(o.message is not None and o.error is None for o in outcomes)
    billing = sandbox.billing().total
    assert billing.batch_requests_succeeded == billing.requests_succeeded == 26  # once each
    records = ledger(store)
    assert len(records) == len(submitted) + 1
    assert all(r.status is BatchStatus.ENDED for r in records)


async def test_an_item_the_crashed_clients_batch_failed_is_answered_once_on_the_standard_api(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    sandbox.add_batch_fault(BatchItemFault.errored("overloaded_error", marker="unlucky"))
    requests = [ask("unlucky question"), *(ask(words(n + 1)) for n in range(9))]
    await batch_client(client, store, time).submit(requests)
    time.clock.advance(5)  # the submitter is gone; its batch still runs

    outcomes = await batch_client(client, store, time).run(requests)

    assert [o.source for o in outcomes] == ["standard"] + ["batch"] * 9
    assert all(o.message is not None for o in outcomes)
    billing = sandbox.billing().total
    assert (billing.batch_requests_succeeded, billing.batch_requests_errored) == (9, 1)
    assert billing.requests_succeeded == 10  # the nine batch answers and one standard


async def test_resume_without_waiting_polls_once_and_collects_on_a_later_pass(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    requests = [ask(words(n + 1)) for n in range(20)]  # four waves of ten seconds
    [submitted] = await batch_client(client, store, time).submit(requests)
    time.clock.advance(20)  # the submitter's claim has lapsed; the batch is still running
    beat = batch_client(client, store, time)

    [polled] = await beat.resume()

    assert polled.id == submitted.id and polled.status is BatchStatus.IN_PROGRESS
    assert polled.last_polled_at is not None and polled.last_polled_at > submitted.created_at
    time.clock.advance(60)
    [ended] = await beat.resume()
    assert ended.status is BatchStatus.ENDED and ended.cost_estimate_usd
    assert await beat.resume() == []  # nothing left: resuming again changes nothing


async def test_resume_leaves_a_batch_a_live_worker_is_polling_alone(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    [submitted] = await batch_client(client, store, time).submit([ask("a")])

    assert await batch_client(client, store, time).resume() == []
    assert store.get_batch(submitted.id).last_polled_at == submitted.last_polled_at


async def test_resume_only_touches_its_own_entry(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    await batch_client(client, store, time, entry_key="other").submit([ask("a")])
    time.clock.advance(120)

    assert await batch_client(client, store, time).resume(wait=True) == []
    [other] = store.list_batches(entry_key="other")
    assert other.status is BatchStatus.IN_PROGRESS


def test_two_concurrent_resumers_never_collect_the_same_batch(
    sandbox: SandboxServer, time: Time, tmp_path: Path
) -> None:
    shared = SQLiteStore(tmp_path / "ledger.sqlite3", clock=time.now)
    requests = [ask(words(n + 1)) for n in range(30)]

    async def submit() -> None:
        async with sdk(sandbox) as setup:
            await batch_client(setup, shared, time, max_requests=5).submit(requests)

    asyncio.run(submit())
    time.clock.advance(120)
    spies = [SpyStore(shared), SpyStore(shared)]
    start = threading.Barrier(2)
    acted: list[list[BatchRecord]] = [[], []]

    def resumer(n: int) -> None:
        async def go() -> None:
            async with sdk(sandbox) as own:
                start.wait()
                # Both sleep on one shared fake clock, which makes time run twice as
                # fast for each: a long claim keeps that from looking like a stall.
                worker = batch_client(own, spies[n], time, claim_ttl=3600.0)
                acted[n] = await worker.resume(wait=True)

        asyncio.run(go())

    threads = [threading.Thread(target=resumer, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    stored: dict[str, int] = {}
    for spy in spies:
        for key, count in spy.puts.items():
            stored[key] = stored.get(key, 0) + count
    assert len(stored) == 30 and set(stored.values()) == {1}
    assert all(r.status is BatchStatus.ENDED for r in ledger(shared))
    ended_by = [{r.id for r in records if r.status is BatchStatus.ENDED} for records in acted]
    assert not ended_by[0] & ended_by[1]
    assert len(ended_by[0] | ended_by[1]) == 6
    shared.close()


def _crashed_record(
    time: Time, requests: list[Any], record_id: str = "batch_crashed"
) -> tuple[BatchRecord, list[dict[str, Any]]]:
    """A PENDING record as a submit writes it just before the create call, and the items."""
    prepared = prepare_requests(requests, default_model=MODEL)
    record = BatchRecord(
        id=record_id,
        provider="anthropic",
        model=MODEL,
        entry_key=ENTRY,
        requests={p.custom_id: p.fingerprint for p in prepared},
        created_at=time.now(),
        last_polled_at=time.now(),
    )
    return record, [p.as_batch_item() for p in prepared]


async def test_a_batch_created_just_before_the_crash_is_found_and_adopted(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask(words(n + 1)) for n in range(4)]
    record, items = _crashed_record(time, requests)
    store.insert_batch(record)
    created = await client.messages.batches.create(requests=items)  # type: ignore[arg-type]
    time.clock.advance(120)  # the submitter died before it could write the batch's id down

    [resumed] = await batch_client(client, store, time).resume(wait=True)

    assert resumed.id == record.id and resumed.provider_batch_id == created.id
    assert resumed.status is BatchStatus.ENDED
    outcomes = await batch_client(client, store, time).run(requests)
    assert [o.source for o in outcomes] == ["reused"] * 4
    assert sandbox.billing().total.requests_succeeded == 4


async def test_a_crashed_submit_that_created_nothing_is_marked_failed_and_can_be_resent(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask("never sent one"), ask("never sent two")]
    record, _ = _crashed_record(time, requests)
    store.insert_batch(record)
    time.clock.advance(120)

    [resumed] = await batch_client(client, store, time).resume(wait=True)

    assert resumed.status is BatchStatus.FAILED and resumed.provider_batch_id is None
    assert resumed.error is not None and "nothing was sent or billed" in resumed.error
    outcomes = await batch_client(client, store, time).run(requests)
    assert [o.source for o in outcomes] == ["batch", "batch"]
    assert sandbox.billing().total.requests_succeeded == 2


async def test_requests_whose_orphaned_record_never_reached_the_provider_go_in_a_new_batch(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask("never sent one"), ask("never sent two")]
    record, _ = _crashed_record(time, requests)
    store.insert_batch(record)  # the submitter died before its create call

    # Re-sent at once: the run joins the record, finds nothing behind it once the dead
    # submitter's claim has lapsed, and batches the requests itself, at the batch price.
    outcomes = await batch_client(client, store, time).run(requests)

    assert [o.source for o in outcomes] == ["batch", "batch"]
    billing = sandbox.billing().total
    assert (billing.batch_requests_succeeded, billing.requests_succeeded) == (2, 2)
    assert store.get_batch(record.id).status is BatchStatus.FAILED


async def test_a_same_sized_batch_with_other_custom_ids_is_not_mistaken_for_the_lost_one(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    record, _ = _crashed_record(time, [ask("mine one"), ask("mine two")])
    store.insert_batch(record)
    _, foreign_items = _crashed_record(time, [ask("theirs one"), ask("theirs two")])
    await client.messages.batches.create(requests=foreign_items)  # type: ignore[arg-type]
    time.clock.advance(120)  # the foreign batch has ended: its custom ids can be compared

    [resumed] = await batch_client(client, store, time).resume(wait=True)

    assert resumed.status is BatchStatus.FAILED


async def test_a_pending_record_whose_submitter_is_alive_is_left_alone(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    record, _ = _crashed_record(time, [ask("in flight")])
    store.insert_batch(record)

    assert await batch_client(client, store, time).resume() == []
    assert store.get_batch(record.id).status is BatchStatus.PENDING


async def test_a_cancelled_batch_is_collected_with_what_it_answered(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask(words(n + 1)) for n in range(20)]
    owner = batch_client(client, store, time)
    [submitted] = await owner.submit(requests)
    time.clock.advance(10)  # one wave of five is done

    canceling = await owner.cancel(submitted.id)

    assert canceling.status is BatchStatus.CANCELING
    time.clock.advance(120)
    [ended] = await owner.resume(wait=True)
    assert ended.status is BatchStatus.ENDED
    assert ended.request_counts["canceled"] > 0
    assert ended.request_counts["succeeded"] == sandbox.billing().total.batch_requests_succeeded
    outcomes = await owner.run(requests)
    reused = sum(o.source == "reused" for o in outcomes)
    assert reused == ended.request_counts["succeeded"]


async def test_a_batch_not_yet_submitted_cannot_be_cancelled(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    record, _ = _crashed_record(time, [ask("x")])
    store.insert_batch(record)

    with pytest.raises(ProviderError, match="not reached the provider"):
        await batch_client(client, store, time).cancel(record.id)


async def test_submit_skips_requests_that_already_have_an_answer(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    worker = batch_client(client, store, time)
    await worker.run([ask("known")])  # instant enough: ends after its waves
    records = await worker.submit([ask("known"), ask("new")])

    [record] = records
    assert set(record.requests.values()) == {fingerprint({**ask("new").params, "model": MODEL})}
