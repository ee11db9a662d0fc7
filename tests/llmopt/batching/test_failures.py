from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import pytest

from llmopt.errors import ProviderError
from llmopt.sandbox import BatchItemFault, BatchOptions, FaultPlan, FaultRule, SandboxServer
from llmopt.store import BatchStatus, SQLiteStore

from .conftest import Time, ask, batch_client, ledger, words

BAD = "PLEASEFAIL"
SLOW = "NEVERDONE"
CREATE = {"paths": ("/v1/messages/batches",), "methods": ("POST",)}
RETRIEVE = {"paths": ("/v1/messages/batches/{id}",), "methods": ("GET",)}


def item_faults(*faults: BatchItemFault) -> dict[str, Any]:
    return {"faults": FaultPlan(batch_items=faults)}


def request_faults(*rules: FaultRule, items: tuple[BatchItemFault, ...] = ()) -> dict[str, Any]:
    return {"faults": FaultPlan(rules=rules, batch_items=items)}


CREATE_FAILS_ONCE = request_faults(FaultRule.fail_next(1, "server_error", **CREATE))


def paid_once(sandbox: SandboxServer, outcomes: list[Any]) -> bool:
    """Every answered, non-reused request was billed exactly once, and nothing else was."""
    answered = sum(1 for o in outcomes if o.message is not None and o.source != "reused")
    return sandbox.billing().total.requests_succeeded == answered


@pytest.mark.parametrize(
    "sandbox_options", [item_faults(BatchItemFault.errored("overloaded_error", marker=BAD))]
)
async def test_items_that_errored_for_a_passing_reason_are_answered_on_the_standard_api(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask("fine one"), ask(f"{BAD} two"), ask("fine three")]

    outcomes = await batch_client(client, store, time).run(requests)

    assert [o.source for o in outcomes] == ["batch", "standard", "batch"]
    assert outcomes[1].message is not None and outcomes[1].attempts == 1
    billing = sandbox.billing().total
    assert (billing.batch_requests_succeeded, billing.batch_requests_errored) == (2, 1)
    assert paid_once(sandbox, outcomes)
    [record] = ledger(store)
    assert record.request_counts["errored"] == 1


@pytest.mark.parametrize("sandbox_options", [item_faults(BatchItemFault.errored(marker=BAD))])
async def test_without_fallback_a_retryable_item_error_is_returned_as_retryable(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    outcomes = await batch_client(client, store, time, fallback_to_standard=False).run(
        [ask("fine"), ask(f"{BAD} here")]
    )

    assert outcomes[0].message is not None
    error = outcomes[1].error
    assert error is not None and error.retryable and error.status_code == 500
    assert (outcomes[1].source, outcomes[1].attempts) == ("batch", 0)
    assert sandbox.billing().total.requests_succeeded == 1


async def test_an_invalid_request_comes_back_as_a_final_error_and_is_not_retried(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    outcomes = await batch_client(client, store, time).run([ask("fine"), ask("bad", max_tokens=0)])

    assert outcomes[0].source == "batch" and outcomes[0].message is not None
    bad = outcomes[1]
    assert bad.message is None and bad.error is not None
    assert (bad.error.retryable, bad.error.status_code) == (False, 400)
    assert "invalid_request_error" in str(bad.error)
    assert (bad.source, bad.attempts) == ("batch", 0)
    assert sandbox.billing().total.requests_succeeded == 1  # no standard call was made


@pytest.mark.parametrize("sandbox_options", [item_faults(BatchItemFault.expire(marker=SLOW))])
async def test_items_of_an_expired_batch_are_answered_on_the_standard_api(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask("quick"), ask(f"{SLOW} one"), ask("also quick")]
    patient = batch_client(client, store, time, poll_max=3600.0, deadline=48 * 3600.0)

    outcomes = await patient.run(requests)

    assert [o.source for o in outcomes] == ["batch", "standard", "batch"]
    assert all(o.message is not None for o in outcomes)
    assert sum(time.sleeps) >= 24 * 3600  # the batch expired by itself; nobody cancelled it
    [record] = ledger(store)
    assert record.status is BatchStatus.ENDED and record.request_counts["expired"] == 1
    assert paid_once(sandbox, outcomes)


@pytest.mark.parametrize(
    "sandbox_options",
    [{"faults": FaultPlan(rules=(FaultRule.fail_next(1, "server_error", **CREATE),))}],
)
async def test_when_the_batch_cannot_be_created_the_standard_api_answers(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    outcomes = await batch_client(client, store, time).run([ask("one"), ask("two")])

    assert [(o.source, o.attempts) for o in outcomes] == [("standard", 1), ("standard", 1)]
    [record] = ledger(store)
    assert record.status is BatchStatus.FAILED and record.provider_batch_id is None
    assert record.error is not None and "api_error" in record.error
    assert sandbox.billing().total.batch_requests_succeeded == 0
    assert paid_once(sandbox, outcomes)


@pytest.mark.parametrize(
    "sandbox_options",
    [{"faults": FaultPlan(rules=(FaultRule.fail_next(1, "server_error", **CREATE),))}],
)
async def test_without_fallback_a_batch_that_cannot_be_created_raises(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    strict = batch_client(client, store, time, fallback_to_standard=False)

    with pytest.raises(ProviderError) as raised:
        await strict.run([ask("one"), ask("two")])

    assert raised.value.retryable and raised.value.status_code == 500
    assert [r.status for r in ledger(store)] == [BatchStatus.FAILED]
    assert sandbox.billing().total.requests_succeeded == 0


@pytest.mark.parametrize(
    "sandbox_options",
    [{"faults": FaultPlan(rules=(FaultRule.fail_next(1, "server_error", **CREATE),))}],
)
async def test_a_run_waiting_on_another_that_fails_answers_the_requests_itself(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask("one"), ask("two")]
    strict = batch_client(client, store, time, fallback_to_standard=False)
    patient = batch_client(client, store, time)

    # The strict run claims the requests first; its create is refused, so it raises.
    failed, answered = await asyncio.gather(
        strict.run(requests), patient.run(requests), return_exceptions=True
    )

    assert isinstance(failed, ProviderError) and failed.status_code == 500
    assert isinstance(answered, list)
    assert [o.source for o in answered] == ["batch", "batch"]
    assert sandbox.billing().total.batch_requests_succeeded == 2


@pytest.mark.parametrize(
    "sandbox_options",
    [
        {
            "faults": FaultPlan(
                rules=(FaultRule.fail_next(3, "rate_limit", retry_after=30, **RETRIEVE),)
            )
        }
    ],
)
async def test_a_poller_facing_rate_limits_waits_at_least_as_long_as_the_server_asks(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time
) -> None:
    outcomes = await batch_client(client, store, time, poll_initial=1.0, poll_max=8.0).run(
        [ask("one"), ask("two")]
    )

    assert [o.source for o in outcomes] == ["batch", "batch"]
    assert len(time.sleeps) == 3
    assert all(seconds >= 30 for seconds in time.sleeps)


@pytest.mark.parametrize(
    "sandbox_options", [{"batches": BatchOptions(item_seconds=60, parallelism=1)}]
)
async def test_past_the_deadline_the_batch_is_cancelled_and_the_rest_goes_to_the_standard_api(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    requests = [ask(words(n + 1)) for n in range(5)]
    hurried = batch_client(client, store, time, deadline=150.0)

    outcomes = await hurried.run(requests)

    assert all(o.message is not None for o in outcomes)
    from_batch = sum(o.source == "batch" for o in outcomes)
    assert 1 <= from_batch < 5
    assert sum(o.source == "standard" for o in outcomes) == 5 - from_batch
    assert sum(time.sleeps) < 5 * 60  # did not wait for the whole batch
    billing = sandbox.billing().total
    assert billing.batch_requests_succeeded == from_batch
    assert paid_once(sandbox, outcomes)
    [record] = ledger(store)
    assert record.status is BatchStatus.ENDED
    assert record.request_counts["canceled"] == 5 - from_batch


@pytest.mark.parametrize(
    "sandbox_options", [{"batches": BatchOptions(item_seconds=60, parallelism=1)}]
)
async def test_without_fallback_the_deadline_leaves_the_unanswered_with_retryable_errors(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    hurried = batch_client(client, store, time, deadline=150.0, fallback_to_standard=False)

    outcomes = await hurried.run([ask(words(n + 1)) for n in range(5)])

    answered = [o for o in outcomes if o.message is not None]
    failed = [o for o in outcomes if o.error is not None]
    assert answered and failed and len(answered) + len(failed) == 5
    assert all(o.error is not None and o.error.retryable for o in failed)
    assert sandbox.billing().total.requests_succeeded == len(answered)


@pytest.mark.parametrize(
    "sandbox_options",
    [
        {
            "faults": FaultPlan(
                rules=(FaultRule.fail_next(2, "overloaded"),),
                batch_items=(BatchItemFault.errored(marker=BAD),),
            )
        }
    ],
)
async def test_the_standard_api_is_tried_again_with_backoff_up_to_the_attempt_limit(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    outcomes = await batch_client(client, store, time, standard_attempts=3).run([ask(f"{BAD}")])

    [outcome] = outcomes
    assert (outcome.source, outcome.attempts) == ("standard", 3)
    assert outcome.message is not None
    assert len(time.sleeps) == 2


@pytest.mark.parametrize(
    "sandbox_options",
    [
        {
            "faults": FaultPlan(
                rules=(FaultRule.fail_next(5, "overloaded"),),
                batch_items=(BatchItemFault.errored(marker=BAD),),
            )
        }
    ],
)
async def test_a_request_the_standard_api_keeps_refusing_ends_with_its_last_error(
    client: anthropic.AsyncAnthropic, store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    [outcome] = await batch_client(client, store, time, standard_attempts=2).run([ask(f"{BAD}")])

    assert (outcome.source, outcome.attempts) == ("standard", 2)
    assert outcome.error is not None and outcome.error.retryable
    assert outcome.error.status_code == 529
