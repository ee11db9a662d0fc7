from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import pytest

from llmopt.batching import BatchRequest, InFlight, fingerprint
from llmopt.batching._requests import batch_body_size, prepare_requests
from llmopt.sandbox import BatchOptions, SandboxServer
from llmopt.store import BatchStatus, SQLiteStore

from .conftest import ENTRY, MODEL, Time, ask, batch_client, ledger, sdk, words


def input_tokens(outcome_message: dict[str, Any] | None) -> int:
    assert outcome_message is not None
    return int(outcome_message["usage"]["input_tokens"])


async def test_each_request_gets_its_own_answer_although_results_come_back_shuffled(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    requests = [ask(words(n + 1)) for n in range(30)]

    outcomes = await batch_client(client, store, time).run(requests)

    assert [o.source for o in outcomes] == ["batch"] * 30
    # One more word, one more input token: the answers line up with the questions.
    tokens = [input_tokens(o.message) for o in outcomes]
    assert [t - tokens[0] for t in tokens] == list(range(30))
    assert all(o.error is None and o.attempts == 0 for o in outcomes)


async def test_identical_requests_in_one_run_are_sent_and_paid_once(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask("same"), ask("other"), ask("same"), BatchRequest(ask("same").params, "mine")]

    outcomes = await batch_client(client, store, time).run(requests)

    assert [o.source for o in outcomes] == ["batch", "batch", "reused", "reused"]
    assert outcomes[3].custom_id == "mine"
    assert outcomes[0].message == outcomes[2].message == outcomes[3].message
    assert outcomes[2].message is not outcomes[0].message  # each caller owns its copy
    assert sandbox.billing().total.batch_requests_succeeded == 2
    [record] = ledger(store)
    assert len(record.requests) == 2


async def test_outcomes_carry_the_custom_ids_given_and_assigned(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    requests = [
        BatchRequest(ask("a").params, "first"),
        ask("b"),
        BatchRequest(ask("c").params, "third"),
    ]

    outcomes = await batch_client(client, store, time).run(requests)

    assert outcomes[0].custom_id == "first" and outcomes[2].custom_id == "third"
    assert outcomes[1].custom_id not in ("first", "third")


async def test_the_ledger_records_the_batch_with_its_requests_counts_and_cost(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    requests = [ask(words(5)), ask(words(6))]

    outcomes = await batch_client(client, store, time).run(requests)

    [record] = ledger(store)
    assert record.status is BatchStatus.ENDED
    assert record.provider == "anthropic" and record.model == MODEL and record.entry_key == ENTRY
    assert record.provider_batch_id is not None and record.provider_batch_id.startswith("msgbatch_")
    assert record.requests == {
        o.custom_id: fingerprint({**r.params, "model": MODEL})
        for o, r in zip(outcomes, requests, strict=True)
    }
    assert record.request_counts["succeeded"] == 2
    assert record.submitted_at is not None and record.ended_at is not None
    assert record.expires_at is not None and record.last_polled_at is not None
    assert record.cost_estimate_usd is not None and record.cost_estimate_usd > 0


async def test_the_ledger_cost_is_what_the_provider_billed(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    await batch_client(client, store, time).run([ask(words(n + 3)) for n in range(5)])

    [record] = ledger(store)
    billed = sandbox.billing().total.cost_usd
    assert billed is not None
    assert record.cost_estimate_usd == pytest.approx(float(billed))


async def test_requests_over_the_count_limit_go_out_in_several_batches(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask(words(n + 1)) for n in range(7)]

    outcomes = await batch_client(client, store, time, max_requests=3).run(requests)

    assert sorted(len(r.requests) for r in ledger(store)) == [1, 3, 3]
    assert all(r.status is BatchStatus.ENDED for r in ledger(store))
    tokens = [input_tokens(o.message) for o in outcomes]
    assert [t - tokens[0] for t in tokens] == list(range(7))
    assert sandbox.billing().total.batch_requests_succeeded == 7


SAME_SIZE = [ask(words(40, word=f"w{n}")) for n in range(10)]


def _byte_limit() -> int:
    prepared = prepare_requests(SAME_SIZE[:3], default_model=MODEL)
    return batch_body_size(prepared) + 20  # three fit, four do not


@pytest.mark.parametrize("sandbox_options", [{"batches": BatchOptions(max_bytes=_byte_limit())}])
async def test_requests_over_the_byte_limit_go_out_in_batches_the_provider_accepts(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    outcomes = await batch_client(client, store, time, max_bytes=_byte_limit()).run(SAME_SIZE)

    assert [o.source for o in outcomes] == ["batch"] * 10
    assert sorted(len(r.requests) for r in ledger(store)) == [1, 3, 3, 3]
    assert sandbox.billing().total.requests_errored == 0


async def test_a_second_run_of_the_same_requests_sends_nothing_and_costs_nothing(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask(words(n + 1)) for n in range(6)]
    first = await batch_client(client, store, time).run(requests)
    billed = sandbox.billing().total

    again = await batch_client(client, store, time).run(requests)

    assert [o.source for o in again] == ["reused"] * 6
    assert [o.message for o in again] == [o.message for o in first]
    assert sandbox.billing().total == billed
    assert len(ledger(store)) == 1


async def test_only_the_requests_without_a_stored_answer_are_sent(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    await batch_client(client, store, time).run([ask("one"), ask("two")])

    outcomes = await batch_client(client, store, time).run([ask("two"), ask("three")])

    assert [o.source for o in outcomes] == ["reused", "batch"]
    assert sandbox.billing().total.batch_requests_succeeded == 3
    assert sorted(len(r.requests) for r in ledger(store)) == [1, 2]


async def test_stored_answers_stop_being_reused_29_days_after_their_batch_was_created(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    await batch_client(client, store, time).run([ask("old")])
    time.clock.advance(29 * 24 * 3600 + 1)

    [outcome] = await batch_client(client, store, time).run([ask("old")])

    assert outcome.source == "batch"
    assert sandbox.billing().total.batch_requests_succeeded == 2


async def test_one_client_serves_concurrent_runs(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    shared = batch_client(client, store, time)
    groups = [[ask(words(10 * g + n + 1)) for n in range(5)] for g in range(4)]

    results = await asyncio.gather(*(shared.run(group) for group in groups))

    for group, outcomes in zip(groups, results, strict=True):
        assert [o.source for o in outcomes] == ["batch"] * len(group)
    assert len(ledger(store)) == 4


async def test_concurrent_runs_of_the_same_requests_send_and_pay_for_them_once(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    shared = [ask(words(n + 1)) for n in range(6)]
    first_requests = [*shared, ask("only in the first")]
    second_requests = [ask("only in the second"), *shared]
    # Two clients of one entry, as two wrappers of one process have.
    first, second = batch_client(client, store, time), batch_client(client, store, time)

    one, two = await asyncio.gather(first.run(first_requests), second.run(second_requests))

    assert sandbox.billing().total.batch_requests_succeeded == 8
    assert len([o for o in [*one, *two] if o.source == "batch"]) == 8
    assert len([o for o in [*one, *two] if o.source == "reused"]) == 6
    for a, b in zip(one[:6], two[1:], strict=True):
        assert a.message == b.message and a.message is not b.message
    assert sum(len(record.requests) for record in ledger(store)) == 8


async def test_runs_of_two_processes_on_one_ledger_send_a_shared_request_once(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    shared = [ask(words(n + 1)) for n in range(6)]
    # A registry each: the two clients share nothing but the ledger, as two processes.
    first = batch_client(client, store, time, in_flight=InFlight())
    second = batch_client(client, store, time, in_flight=InFlight())

    one, two = await asyncio.gather(
        first.run([*shared, ask("first's own")]), second.run([ask("second's own"), *shared])
    )

    # The ledger insert checks and records in one step: the later run joins the batch.
    assert sandbox.billing().total.batch_requests_succeeded == 8
    assert [a.message == b.message for a, b in zip(one[:6], two[1:], strict=True)] == [True] * 6
    assert sum(len(record.requests) for record in ledger(store)) == 8


def test_runs_on_two_threads_send_a_shared_request_once(
    sandbox: SandboxServer, store: SQLiteStore, time: Time
) -> None:
    clients = [batch_client(sdk(sandbox), store, time) for _ in range(2)]
    requests = [ask("asked by both threads"), ask("also by both")]
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda c: c.run_sync(requests), clients))
    finally:
        for shared in clients:
            shared.close()

    assert sandbox.billing().total.batch_requests_succeeded == 2
    assert sorted(o.source for outcomes in results for o in outcomes) == [
        "batch",
        "batch",
        "reused",
        "reused",
    ]


def test_run_sync_answers_synchronous_callers(
    sandbox: SandboxServer, store: SQLiteStore, time: Time
) -> None:
    shared = batch_client(sdk(sandbox), store, time)

    try:
        first = shared.run_sync([ask("sync one"), ask("sync two")])
        second = shared.run_sync([ask("sync one")])
    finally:
        shared.close()

    assert [o.source for o in first] == ["batch", "batch"]
    assert [o.source for o in second] == ["reused"]


async def test_an_empty_list_needs_no_batch(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    assert await batch_client(client, store, time).run([]) == []
    assert ledger(store) == []


async def test_malformed_requests_are_rejected_before_anything_is_recorded(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    with pytest.raises(ValueError, match="custom_id"):
        await batch_client(client, store, time).run([BatchRequest(ask("x").params, "bad id")])
    assert ledger(store) == []
