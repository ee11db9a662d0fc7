from __future__ import annotations

import time

import anthropic
import pytest
from pydantic import ValidationError

from llmopt.sandbox import (
    BatchItemFault,
    FaultPlan,
    FaultRule,
    ManualClock,
    SandboxServer,
    running_sandbox,
)

from .conftest import MODEL, batch_item, batch_items, results_of, sdk_client, send

BATCHES = "/v1/messages/batches"
DAY = 24 * 3600


@pytest.mark.parametrize("error", ["api_error", "overloaded_error", "invalid_request_error"])
def test_items_marked_in_their_text_come_back_errored_with_the_chosen_error(
    sandbox: SandboxServer, client: anthropic.Anthropic, error: str
) -> None:
    sandbox.add_batch_fault(BatchItemFault.errored(error, marker="FAIL"))  # type: ignore[arg-type]
    requests = [batch_item("ok-1", "Fine"), batch_item("bad", "Please FAIL"), batch_item("ok-2")]

    batch = client.messages.batches.create(requests=requests)
    ended = client.messages.batches.retrieve(batch.id)
    results = results_of(client, batch.id)

    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (2, 1)
    assert results["bad"].type == "errored"
    assert results["bad"].error.error.type == error
    assert results["ok-1"].type == results["ok-2"].type == "succeeded"
    billed = sandbox.billing().models[MODEL]
    assert (billed.batch_requests_succeeded, billed.batch_requests_errored) == (2, 1)


def test_an_error_rate_fails_the_same_items_for_the_same_seed() -> None:
    def errored(seed: int) -> set[str]:
        plan = FaultPlan(batch_items=(BatchItemFault.errored("api_error", rate=0.3),), seed=seed)
        with (
            running_sandbox(clock=ManualClock(), faults=plan) as sandbox,
            sdk_client(sandbox.base_url) as client,
        ):
            results = results_of(
                client, client.messages.batches.create(requests=batch_items(50)).id
            )
        return {k for k, r in results.items() if r.type == "errored"}

    first, again, other = errored(4), errored(4), errored(5)

    assert 5 <= len(first) <= 25
    assert first == again
    assert first != other


def test_a_limited_rule_fails_only_the_next_items(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_batch_fault(BatchItemFault.errored("overloaded_error", times=2))

    first = client.messages.batches.create(requests=batch_items(3))
    second = client.messages.batches.create(requests=batch_items(3))

    assert client.messages.batches.retrieve(first.id).request_counts.errored == 2
    assert client.messages.batches.retrieve(second.id).request_counts.errored == 0


def test_items_that_never_complete_expire_24_hours_after_creation(
    sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    sandbox.add_batch_fault(BatchItemFault.expire())
    batch = client.messages.batches.create(requests=batch_items(4))

    clock.advance(DAY - 1)
    waiting = client.messages.batches.retrieve(batch.id)
    clock.advance(1)
    ended = client.messages.batches.retrieve(batch.id)
    results = results_of(client, batch.id)

    assert waiting.processing_status == "in_progress"
    assert ended.processing_status == "ended"
    assert ended.ended_at == batch.expires_at
    assert ended.request_counts.expired == 4
    assert {r.type for r in results.values()} == {"expired"}
    assert MODEL not in sandbox.billing().models


def test_a_batch_with_some_stuck_items_ends_at_expiry_with_the_others_done(
    sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    sandbox.add_batch_fault(BatchItemFault.expire(marker="stuck"))
    requests = [*batch_items(3), batch_item("stuck-one", "I am stuck")]

    batch = client.messages.batches.create(requests=requests)
    early = client.messages.batches.retrieve(batch.id)
    clock.advance(DAY)
    ended = client.messages.batches.retrieve(batch.id)

    assert early.processing_status == "in_progress"
    assert (ended.request_counts.succeeded, ended.request_counts.expired) == (3, 1)
    assert results_of(client, batch.id)["stuck-one"].type == "expired"


def test_canceling_a_batch_with_stuck_items_cancels_them(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_batch_fault(BatchItemFault.expire(marker="stuck"))
    batch = client.messages.batches.create(requests=[*batch_items(2), batch_item("s", "stuck")])

    client.messages.batches.cancel(batch.id)
    ended = client.messages.batches.retrieve(batch.id)

    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.canceled) == (2, 1)


def test_invalid_params_report_their_own_error_whatever_the_rules(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_batch_fault(BatchItemFault.errored("overloaded_error"))

    batch = client.messages.batches.create(requests=[batch_item("bad", max_tokens=0)])

    assert results_of(client, batch.id)["bad"].error.error.type == "invalid_request_error"


def test_batch_item_rules_are_set_and_shown_over_http(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    plan = {"seed": 2, "batch_items": [{"outcome": "api_error", "times": 1}]}

    put = send(sandbox.base_url, "/_sandbox/faults", plan, api_key=None)
    batch = client.messages.batches.create(requests=batch_items(2))
    shown = send(sandbox.base_url, "/_sandbox/faults", method="GET", api_key=None).json()
    send(sandbox.base_url, "/_sandbox/faults?append=true", plan, api_key=None)
    appended = send(sandbox.base_url, "/_sandbox/faults", method="GET", api_key=None).json()

    assert put.status == 200
    assert client.messages.batches.retrieve(batch.id).request_counts.errored == 1
    assert shown["batch_items"][0]["remaining"] == 0
    assert [r["remaining"] for r in appended["batch_items"]] == [0, 1]


def test_a_batch_item_rule_needs_a_known_outcome() -> None:
    with pytest.raises(ValidationError):
        BatchItemFault(outcome="flood")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expire"):
        BatchItemFault.errored("expired")


# -- request-level faults on the batch endpoints ----------------------------------------------


def test_a_server_error_on_create_creates_nothing_and_the_sdk_retry_succeeds(
    sandbox: SandboxServer,
) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "server_error", paths=(BATCHES,), methods=("POST",)))

    with sdk_client(sandbox.base_url) as client, pytest.raises(anthropic.InternalServerError):
        client.messages.batches.create(requests=batch_items(2))
    sandbox.add_fault(FaultRule.fail_next(1, "overloaded", paths=(BATCHES,), methods=("POST",)))
    with sdk_client(sandbox.base_url, max_retries=1) as client:
        created = client.messages.batches.create(requests=batch_items(2))
        listed = [b.id for b in client.messages.batches.list()]

    assert listed == [created.id]
    assert sandbox.batch_calls()["create"] == 3


def test_a_429_on_retrieve_carries_retry_after_and_the_sdk_waits_and_retries(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(requests=batch_items(1))
    retrieve = FaultRule.fail_next(
        2, "rate_limit", paths=(f"{BATCHES}/{{id}}",), methods=("GET",), retry_after=0
    )
    sandbox.add_fault(retrieve)

    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.batches.retrieve(batch.id)
    with sdk_client(sandbox.base_url, max_retries=1) as patient:
        ended = patient.messages.batches.retrieve(batch.id)
    listed = client.messages.batches.list()  # the rule names the retrieve path only

    assert raised.value.response.headers["retry-after"] == "0"
    assert ended.processing_status == "ended"
    assert len(listed.data) == 1
    assert sandbox.batch_calls()["retrieve"] == 3


def test_a_rule_on_a_path_template_leaves_other_methods_and_paths_alone(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_fault(FaultRule.fail_rate(1.0, "overloaded", paths=(f"{BATCHES}/{{id}}/results",)))
    batch = client.messages.batches.create(requests=batch_items(1))

    retrieved = client.messages.batches.retrieve(batch.id)
    with pytest.raises(anthropic.OverloadedError):
        results_of(client, batch.id)

    assert retrieved.processing_status == "ended"


def test_the_default_rule_paths_do_not_touch_batches(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_fault(FaultRule.fail_rate(1.0, "overloaded"))

    batch = client.messages.batches.create(requests=batch_items(1))

    assert len(results_of(client, batch.id)) == 1


def test_latency_rules_slow_batch_endpoints_too(clock: ManualClock) -> None:
    delay = FaultRule.delay(150, paths=(BATCHES,), methods=("GET",))
    with running_sandbox(clock=clock, faults=FaultPlan(rules=(delay,))) as sandbox:
        started = time.monotonic()
        response = send(sandbox.base_url, BATCHES, method="GET")
        elapsed = time.monotonic() - started
        described = send(sandbox.base_url, "/_sandbox/faults", method="GET", api_key=None).json()

    assert response.status == 200
    assert elapsed >= 0.15
    assert described["rules"][0]["methods"] == ["GET"]
