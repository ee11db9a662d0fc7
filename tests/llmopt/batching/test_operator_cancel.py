"""An operator's cancel stops spending: what it stopped is not sent anywhere else.

The operator is another client on the same store (a console in another process): the
run waiting for the batch learns of the cancel only through the ledger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anthropic
import pytest

from llmopt import BatchCanceled
from llmopt.batching import BatchRequest
from llmopt.errors import ProviderError
from llmopt.sandbox import BatchOptions, FaultRule, SandboxServer
from llmopt.store import BatchCancel, BatchStatus, SQLiteStore

from .conftest import Time, ask, batch_client, ledger, words

# Twenty requests, five at a time, ten seconds a wave: forty seconds in all.
SLOW = {"batches": BatchOptions(item_seconds=10, parallelism=5)}
pytestmark = pytest.mark.parametrize("sandbox_options", [SLOW])


def requests(count: int = 20) -> list[BatchRequest]:
    return [ask(words(n + 1)) for n in range(count)]


def sleep_then(
    time: Time, at: float, action: Callable[[str], Awaitable[object]], store: SQLiteStore
) -> Callable[[float], Awaitable[None]]:
    """The run's sleep: once ``at`` seconds have passed, ``action(record id)`` runs once,
    as an operator elsewhere would act while the run waits."""
    start = time.clock()
    done = False

    async def sleep(seconds: float) -> None:
        nonlocal done
        await time.sleep(seconds)
        if not done and time.clock() - start >= at:
            done = True
            [record] = ledger(store)
            await action(record.id)

    return sleep


def paid_in_batch_only(sandbox: SandboxServer) -> tuple[int, int]:
    billed = sandbox.billing().total
    return billed.batch_requests_succeeded, billed.requests_succeeded


async def test_what_an_operator_canceled_is_not_resent_and_its_callers_get_batch_canceled(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    operator = batch_client(client, store, time)

    async def cancel(record_id: str) -> object:
        return await operator.cancel(record_id, by="alice", reason="wrong prompts")

    waiting = batch_client(client, store, time, sleep=sleep_then(time, 12, cancel, store))

    outcomes = await waiting.run(requests())

    [record] = ledger(store)
    assert record.status is BatchStatus.ENDED
    canceled = record.request_counts["canceled"]
    succeeded = record.request_counts["succeeded"]
    assert canceled > 0 and succeeded > 0 and canceled + succeeded == 20
    # Nothing went to the standard API: only what the batch answered was billed.
    assert paid_in_batch_only(sandbox) == (succeeded, succeeded)
    answered = [o for o in outcomes if o.message is not None]
    stopped = [o for o in outcomes if o.error is not None]
    assert len(answered) == succeeded and all(o.source == "batch" for o in answered)
    assert len(stopped) == canceled
    for outcome in stopped:
        error = outcome.error
        assert isinstance(error, BatchCanceled) and isinstance(error, ProviderError)
        assert not error.retryable and outcome.attempts == 0
        assert (error.batch_id, error.canceled_by, error.reason) == (
            record.id,
            "alice",
            "wrong prompts",
        )
        assert error.provider_batch_id == record.provider_batch_id
        assert record.id in str(error) and "alice" in str(error) and "wrong prompts" in str(error)
    assert record.cancel is not None and record.cancel.by == "alice"
    assert not record.cancel.send_rest_standard and record.cancel.problem is None


async def test_an_operator_can_cancel_and_have_the_rest_sent_at_once_at_the_standard_price(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    operator = batch_client(client, store, time)

    async def cancel(record_id: str) -> object:
        return await operator.cancel(record_id, by="alice", send_rest_standard=True)

    # Fallback off: the operator's explicit choice still sends them.
    waiting = batch_client(
        client,
        store,
        time,
        sleep=sleep_then(time, 12, cancel, store),
        fallback_to_standard=False,
    )

    outcomes = await waiting.run(requests())

    [record] = ledger(store)
    canceled = record.request_counts["canceled"]
    assert canceled > 0
    assert all(o.message is not None and o.error is None for o in outcomes)
    assert sum(o.source == "standard" for o in outcomes) == canceled
    assert paid_in_batch_only(sandbox) == (20 - canceled, 20)


async def test_a_cancel_recorded_in_the_ledger_reaches_the_provider_through_whoever_polls(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    # The console recorded the operator's cancel, then died before asking the provider.
    [submitted] = await batch_client(client, store, time).submit(requests())
    time.clock.advance(17)  # one wave done; the submitter's claim (16 s) has lapsed
    cancel = BatchCancel(by="alice", at=time.now())
    assert store.update_batch(submitted.id, {"cancel": cancel}) is not None

    [polled] = await batch_client(client, store, time).resume()

    assert polled.status is BatchStatus.CANCELING
    assert sandbox.batch_calls().get("cancel") == 1
    time.clock.advance(60)
    [ended] = await batch_client(client, store, time).resume()
    assert ended.status is BatchStatus.ENDED and ended.request_counts["canceled"] == 10
    assert ended.cancel == cancel


async def test_a_cancel_the_provider_refused_is_kept_with_its_problem_and_asked_again(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    [submitted] = await batch_client(client, store, time).submit(requests())
    sandbox.add_fault(
        FaultRule.fail_next(1, "server_error", paths=("/v1/messages/batches/{id}/cancel",))
    )
    operator = batch_client(client, store, time)

    with pytest.raises(ProviderError, match="cancelling"):
        await operator.cancel(submitted.id, by="alice")

    refused = store.get_batch(submitted.id)
    assert refused.status is BatchStatus.IN_PROGRESS
    assert refused.cancel is not None and refused.cancel.problem
    time.clock.advance(17)  # the submitter's claim (16 s) has lapsed
    [polled] = await batch_client(client, store, time).resume()
    assert polled.status is BatchStatus.CANCELING
    assert polled.cancel is not None and polled.cancel.problem is None
    assert sandbox.batch_calls().get("cancel") == 2


async def test_an_operators_cancel_of_a_batch_already_canceled_by_an_operator_changes_nothing(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    [submitted] = await batch_client(client, store, time).submit(requests())
    operator = batch_client(client, store, time)
    first = await operator.cancel(submitted.id, by="alice", reason="first")

    again = await operator.cancel(submitted.id, by="bob", send_rest_standard=True)

    assert again.cancel == first.cancel
    assert again.cancel is not None and again.cancel.by == "alice"
    assert sandbox.batch_calls().get("cancel") == 1


async def test_the_deadline_cancel_is_the_clients_own_and_records_no_operator(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    hurried = batch_client(client, store, time, deadline=15.0)

    outcomes = await hurried.run(requests())

    [record] = ledger(store)
    assert record.cancel is None and record.request_counts["canceled"] > 0
    assert all(o.message is not None for o in outcomes)  # the rest went to the standard API
    assert sum(o.source == "standard" for o in outcomes) == record.request_counts["canceled"]
