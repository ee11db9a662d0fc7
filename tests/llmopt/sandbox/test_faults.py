from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import pytest
from pydantic import ValidationError

from llmopt.sandbox import FaultPlan, FaultRule, SandboxServer, running_sandbox

from .conftest import MODEL, sdk_client, send

HELLO: Any = [{"role": "user", "content": "Hello"}]


def outcome(client: anthropic.Anthropic, content: str = "Hello") -> int:
    """The status code one request ends with (after the client's retries)."""
    try:
        client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": content}]
        )
    except anthropic.APIStatusError as error:
        return error.status_code
    return 200


def test_a_rate_limited_request_gets_429_with_retry_after(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "rate_limit"))

    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert raised.value.response.headers["retry-after"] == "1"
    assert raised.value.response.headers["x-should-retry"] == "true"
    assert raised.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


def test_the_sdk_waits_for_retry_after_and_then_succeeds(sandbox: SandboxServer) -> None:
    sandbox.add_fault(FaultRule.fail_next(2, "rate_limit", retry_after=0.2))

    with sdk_client(sandbox.base_url, api_key="k", max_retries=2) as client:
        started = time.monotonic()
        message = client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        elapsed = time.monotonic() - started

    assert message.type == "message"
    assert elapsed >= 0.4
    billed = sandbox.billing().models[MODEL]
    assert (billed.requests_errored, billed.requests_succeeded) == (2, 1)


def test_x_should_retry_false_stops_the_sdk_from_retrying(sandbox: SandboxServer) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "overloaded", should_retry=False))

    with (
        sdk_client(sandbox.base_url, api_key="k", max_retries=2) as client,
        pytest.raises(anthropic.OverloadedError),
    ):
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert sandbox.billing().models[MODEL].requests_errored == 1


@pytest.mark.parametrize(
    ("kind", "status", "error_type"),
    [("overloaded", 529, "overloaded_error"), ("server_error", 500, "api_error")],
)
def test_the_next_n_requests_fail_and_then_requests_succeed_again(
    sandbox: SandboxServer, client: anthropic.Anthropic, kind: Any, status: int, error_type: str
) -> None:
    sandbox.add_fault(FaultRule.fail_next(2, kind))

    response = send(
        sandbox.base_url, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": HELLO}
    )
    statuses = [response.status] + [outcome(client) for _ in range(2)]

    assert statuses == [status, status, 200]
    assert response.json()["error"]["type"] == error_type


def test_failure_rates_are_reproducible_with_a_seed(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    def pattern(seed: int) -> list[int]:
        sandbox.set_faults(FaultPlan(seed=seed, rules=(FaultRule.fail_rate(0.2, "overloaded"),)))
        return [outcome(client) for _ in range(60)]

    first, again, other = pattern(7), pattern(7), pattern(8)

    assert first == again
    assert first != other
    assert set(first) == {200, 529}
    assert 4 <= first.count(529) <= 24


def test_a_seeded_rate_fails_the_same_requests_whatever_order_they_arrive_in(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    texts = [f"request {n}" for n in range(40)]
    plan = FaultPlan(seed=7, rules=(FaultRule.fail_rate(0.3, "overloaded"),))

    def outcomes(order: list[str], threads: int) -> dict[str, list[int]]:
        sandbox.set_faults(plan)
        # Each text twice: its second occurrence is a draw of its own.
        order = order + order
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(lambda text: outcome(client, text), order))
        seen: dict[str, list[int]] = {}
        for text, status in zip(order, statuses, strict=True):
            seen.setdefault(text, []).append(status)
        # Sorted: two sends of one text in flight together may reach the server either way.
        return {text: sorted(found) for text, found in seen.items()}

    one_by_one = outcomes(texts, threads=1)
    concurrent = outcomes(texts[::-1], threads=8)

    assert concurrent == one_by_one
    assert any(529 in statuses for statuses in one_by_one.values())
    assert [200, 529] in one_by_one.values()


def test_a_marker_fails_only_the_requests_that_mention_it(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_fault(FaultRule.fail_when_text_contains("EXPLODE", "server_error"))

    assert outcome(client, "please EXPLODE now") == 500
    assert outcome(client, "stay calm") == 200
    assert outcome(client, "EXPLODE again") == 500


def test_configured_latency_delays_every_response() -> None:
    with (
        running_sandbox(latency_ms=150) as sandbox,
        sdk_client(sandbox.base_url, api_key="k", max_retries=0) as client,
    ):
        started = time.monotonic()
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        elapsed = time.monotonic() - started

    assert elapsed >= 0.15


def test_a_latency_rule_slows_only_the_requests_it_matches(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_fault(FaultRule.delay(300, marker="slowly"))

    def timed(content: str) -> float:
        started = time.monotonic()
        outcome(client, content)
        return time.monotonic() - started

    slow, fast = timed("answer slowly"), timed("answer now")

    assert slow >= 0.3
    assert fast < slow


def test_faults_can_be_set_read_and_cleared_over_http(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    plan = {"seed": 3, "rules": [{"error": "overloaded", "times": 1}]}

    put = send(sandbox.base_url, "/_sandbox/faults", plan, api_key=None)
    failed = outcome(client)
    shown = send(sandbox.base_url, "/_sandbox/faults", method="GET", api_key=None)
    send(sandbox.base_url, "/_sandbox/faults?append=true", plan, api_key=None)
    cleared = send(sandbox.base_url, "/_sandbox/faults", method="DELETE", api_key=None)

    assert put.status == 200
    assert failed == 529
    assert shown.json()["rules"][0]["remaining"] == 0
    assert cleared.json() == {"rules": [], "batch_items": [], "seed": 0}
    assert outcome(client) == 200


def test_a_bad_fault_plan_is_refused_with_the_reason(sandbox: SandboxServer) -> None:
    response = send(
        sandbox.base_url, "/_sandbox/faults", {"rules": [{"error": "flood"}]}, api_key=None
    )

    assert response.status == 400
    assert "rules.0.error" in response.json()["error"]["message"]


def test_a_rule_that_does_nothing_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs an error or a latency"):
        FaultRule()


def test_faults_apply_to_count_tokens_only_when_asked(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "overloaded"))
    client.messages.count_tokens(model=MODEL, messages=HELLO)
    sandbox.set_faults(
        FaultPlan(
            rules=(FaultRule.fail_next(1, "rate_limit", paths=("/v1/messages/count_tokens",)),)
        )
    )

    with pytest.raises(anthropic.RateLimitError):
        client.messages.count_tokens(model=MODEL, messages=HELLO)
    assert outcome(client) == 200
