"""Per-model behaviour a router and a failover handler can observe: latency distributions,
outages, rate limits, slow streams and timeouts, by model, reproducible from a seed."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from llmopt.sandbox import FaultPlan, FaultRule, ManualClock, SandboxServer, running_sandbox
from llmopt.sandbox._faults import FaultInjector
from llmopt.sandbox._model_behaviour import LatencyDistribution

from .conftest import MODEL, sdk_client, send

OTHER = "claude-haiku-4-5"
HELLO: Any = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def instant() -> ManualClock:
    """A clock the sandbox's waits move forward, so they are measured without waiting."""
    return ManualClock(instant_waits=True)


@pytest.fixture
def timed(instant: ManualClock) -> Iterator[SandboxServer]:
    with running_sandbox(clock=instant) as server:
        yield server


@pytest.fixture
def sdk(timed: SandboxServer) -> Iterator[anthropic.Anthropic]:
    with sdk_client(timed.base_url) as client:
        yield client


def status_of(client: anthropic.Anthropic, model: str = MODEL, content: str = "Hello") -> int:
    try:
        client.messages.create(
            model=model, max_tokens=10, messages=[{"role": "user", "content": content}]
        )
    except anthropic.APIStatusError as error:
        return error.status_code
    return 200


def clock_seconds(clock: ManualClock, client: anthropic.Anthropic, model: str = MODEL) -> float:
    """Clock seconds one request took (its waits, on an instant-waits clock)."""
    before = clock()
    client.messages.create(model=model, max_tokens=10, messages=HELLO)
    return round(clock() - before, 6)


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


class TestLatencyDistributions:
    def test_drawn_latencies_have_the_median_and_95th_percentile_asked_for(self) -> None:
        injector = FaultInjector(FaultPlan(seed=3, rules=(FaultRule.slow(400, 1500),)))

        drawn = [
            injector.decide("/v1/messages", f"request {n}").latency_seconds * 1000
            for n in range(4000)
        ]

        assert percentile(drawn, 0.50) == pytest.approx(400, rel=0.08)
        assert percentile(drawn, 0.95) == pytest.approx(1500, rel=0.12)

    def test_max_ms_caps_every_draw_and_equal_percentiles_are_a_fixed_latency(self) -> None:
        capped = LatencyDistribution(p50_ms=400, p95_ms=1500, max_ms=600)
        fixed = LatencyDistribution(p50_ms=250, p95_ms=250)
        shares = [n / 1000 for n in range(1000)]

        assert max(capped.quantile_ms(s) for s in shares) == 600
        assert {round(fixed.quantile_ms(s), 9) for s in shares} == {250}

    def test_each_model_answers_with_its_own_latency(
        self, timed: SandboxServer, sdk: anthropic.Anthropic, instant: ManualClock
    ) -> None:
        timed.set_model_behaviour(
            {
                MODEL: {"latency": {"p50_ms": 1200, "p95_ms": 1200}},
                "claude-haiku-*": {"latency_ms": 300},
            }
        )

        assert clock_seconds(instant, sdk, MODEL) == 1.2
        assert clock_seconds(instant, sdk, OTHER) == 0.3

    def test_a_latency_distribution_takes_real_time_on_the_real_clock(self) -> None:
        plan = FaultPlan.for_models({MODEL: {"latency": {"p50_ms": 150, "p95_ms": 150}}})
        with running_sandbox(faults=plan) as sandbox, sdk_client(sandbox.base_url) as client:
            started = time.monotonic()
            client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
            slow = time.monotonic() - started

        assert slow >= 0.15

    def test_the_same_seed_gives_the_same_latencies_and_another_seed_others(
        self, timed: SandboxServer, sdk: anthropic.Anthropic, instant: ManualClock
    ) -> None:
        def latencies(seed: int) -> list[float]:
            timed.set_model_behaviour(
                {MODEL: [FaultRule.slow(400, 1500), FaultRule.slow_stream(20)]}, seed=seed
            )
            return [clock_seconds(instant, sdk) for _ in range(8)]

        first, again, other = latencies(7), latencies(7), latencies(8)

        assert first == again
        assert first != other
        assert len(set(first)) == 8  # a repeated request is a new draw


class TestOutages:
    def test_a_model_fails_only_while_the_clock_is_in_its_outage_window(
        self, sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
    ) -> None:
        sandbox.set_model_behaviour({MODEL: {"outage": {"start": 10, "end": 20}}})

        before = status_of(client)
        clock.advance(10)
        during = [status_of(client), status_of(client, OTHER)]
        clock.advance(9.9)
        late = status_of(client)
        clock.advance(0.1)
        after = status_of(client)

        assert (before, during, late, after) == (200, [529, 200], 529, 200)

    def test_an_outage_can_be_given_in_timestamps_and_with_its_own_error(
        self, sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
    ) -> None:
        window = {"start": "2026-01-01T00:01:00Z", "end": "2026-01-01T00:02:00+00:00"}
        sandbox.set_model_behaviour({MODEL: {"outage": window, "error": "server_error"}})

        before = status_of(client)
        clock.advance(90)
        during = status_of(client)
        clock.advance(30)

        assert (before, during, status_of(client)) == (200, 500, 200)

    def test_relative_outage_times_of_an_added_rule_count_from_when_it_was_added(
        self, sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
    ) -> None:
        clock.advance(100)
        sandbox.add_fault(FaultRule.outage_between(0, 5, models=(MODEL,)))

        assert status_of(client) == 529
        clock.advance(5)
        assert status_of(client) == 200


class TestRateLimits:
    def test_requests_beyond_the_limit_get_429_until_a_slot_frees(
        self, sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
    ) -> None:
        sandbox.set_model_behaviour({MODEL: FaultRule.rate_limited(2, per_seconds=60)})

        admitted = [status_of(client), status_of(client)]
        clock.advance(15)
        admitted.append(status_of(client, OTHER))  # each model has its own window
        with pytest.raises(anthropic.RateLimitError) as first:
            client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        clock.advance(44.5)
        with pytest.raises(anthropic.RateLimitError) as second:
            client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        clock.advance(0.5)

        assert admitted == [200, 200, 200]
        assert first.value.response.headers["retry-after"] == "45"
        assert second.value.response.headers["retry-after"] == "1"  # 0.5 s, at least 1
        assert status_of(client) == 200
        assert status_of(client) == 200  # the window slid: both first requests left it
        assert status_of(client) == 429

    def test_a_token_limit_counts_the_sandbox_input_tokens(
        self, sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
    ) -> None:
        sandbox.set_model_behaviour(
            {MODEL: {"rate_limit": {"requests": 100, "per_seconds": 60, "tokens": 40}}}
        )
        counted = client.messages.count_tokens(model=MODEL, messages=HELLO).input_tokens

        statuses = [status_of(client) for _ in range(40 // counted + 1)]

        assert statuses == [200] * (40 // counted) + [429]
        clock.advance(60)
        assert status_of(client) == 200

    def test_a_rate_limit_over_http_answers_with_the_window_s_retry_after(
        self, sandbox: SandboxServer
    ) -> None:
        plan = {"rules": [{"models": [MODEL], "rate_limit": {"requests": 1, "per_seconds": 9}}]}
        send(sandbox.base_url, "/_sandbox/faults", plan, api_key=None)
        body = {"model": MODEL, "max_tokens": 5, "messages": HELLO}

        first, second = (send(sandbox.base_url, "/v1/messages", body) for _ in range(2))

        assert (first.status, second.status) == (200, 429)
        assert second.headers["retry-after"] == "9"
        assert second.json()["error"]["type"] == "rate_limit_error"


class TestSlowStreams:
    def test_a_slow_stream_waits_between_its_chunks_on_the_sandbox_clock(
        self, timed: SandboxServer, instant: ManualClock
    ) -> None:
        timed.set_model_behaviour({MODEL: FaultRule.slow_stream(250)})
        body = {"model": MODEL, "max_tokens": 30, "messages": HELLO, "stream": True}

        before = instant()
        response = send(timed.base_url, "/v1/messages", body)
        waited = instant() - before
        events = response.body.decode().count("\n\n")

        assert events > 5
        assert waited == pytest.approx(0.25 * (events - 1))

    def test_the_sdk_reads_a_slow_stream_whole_and_other_models_stream_at_once(
        self, timed: SandboxServer, sdk: anthropic.Anthropic, instant: ManualClock
    ) -> None:
        timed.set_model_behaviour({MODEL: {"stream_chunk_delay_ms": {"p50_ms": 50, "p95_ms": 90}}})

        def streamed(model: str) -> tuple[str, float]:
            before = instant()
            with sdk.messages.stream(model=model, max_tokens=30, messages=HELLO) as stream:
                text = stream.get_final_text()
            return text, instant() - before

        slow_text, slow = streamed(MODEL)
        fast_text, fast = streamed(OTHER)

        assert slow_text and fast_text
        assert slow > 0.3
        assert fast == 0

    def test_a_slow_stream_takes_real_time_on_the_real_clock(self) -> None:
        plan = FaultPlan.for_models({MODEL: FaultRule.slow_stream(30)})
        body = {"model": MODEL, "max_tokens": 30, "messages": HELLO, "stream": True}
        with running_sandbox(faults=plan) as sandbox:
            started = time.monotonic()
            response = send(sandbox.base_url, "/v1/messages", body)
            elapsed = time.monotonic() - started

        assert elapsed >= 0.03 * (response.body.decode().count("\n\n") - 1)


class TestTimeouts:
    def test_a_hung_request_ends_in_504_timeout_error_after_hang_ms(
        self, timed: SandboxServer, sdk: anthropic.Anthropic, instant: ManualClock
    ) -> None:
        timed.set_model_behaviour({MODEL: FaultRule.hang(30_000)})

        before = instant()
        with pytest.raises(anthropic.InternalServerError) as raised:
            sdk.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

        assert raised.value.status_code == 504
        assert raised.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]
        assert instant() - before == 30

    def test_a_client_with_a_shorter_timeout_sees_its_own_timeout(self) -> None:
        plan = FaultPlan.for_models({MODEL: FaultRule.hang(60_000)})
        with (
            running_sandbox(faults=plan) as sandbox,
            anthropic.Anthropic(
                base_url=sandbox.base_url,
                api_key="k",
                max_retries=0,
                timeout=0.2,
            ) as client,
            pytest.raises(anthropic.APITimeoutError),
        ):
            client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)


class TestWhichRequestsMatch:
    def test_a_glob_matches_every_model_it_names(
        self, sandbox: SandboxServer, client: anthropic.Anthropic
    ) -> None:
        sandbox.add_fault(FaultRule.fail_next(5, "server_error", models=("claude-*-4-5",)))

        assert (status_of(client, OTHER), status_of(client, MODEL)) == (500, 200)

    def test_with_models_a_rule_covers_every_chat_endpoint_and_without_only_messages(
        self,
    ) -> None:
        with_models = FaultRule(error="overloaded", models=("gpt-5.4*",))
        without = FaultRule(error="overloaded")

        assert with_models.paths == ("/v1/messages", "/v1/chat/completions", "/api/chat")
        assert without.paths == ("/v1/messages",)
        assert FaultRule(error="overloaded", models=("m",), paths=("/x",)).paths == ("/x",)

    def test_a_rule_with_models_never_matches_a_request_without_a_model(self) -> None:
        injector = FaultInjector(FaultPlan(rules=(FaultRule(error="overloaded", models=("*",)),)))

        assert injector.decide("/v1/messages", "hi").error is None
        assert injector.decide("/v1/messages", "hi", model="any").error is not None

    def test_a_model_s_rules_apply_to_count_tokens_only_when_their_paths_say_so(
        self, sandbox: SandboxServer, client: anthropic.Anthropic
    ) -> None:
        counting = ("/v1/messages/count_tokens",)
        sandbox.set_model_behaviour(
            {MODEL: [{"error": "server_error"}, {"error": "overloaded", "paths": counting}]}
        )

        with pytest.raises(anthropic.OverloadedError):
            client.messages.count_tokens(model=MODEL, messages=HELLO)
        assert status_of(client) == 500
