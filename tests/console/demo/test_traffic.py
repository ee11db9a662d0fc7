"""The demo's traffic generator, run for a few seconds against a real sandbox and store."""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console.demo.seed import DEMO_AICONFIGS, DEMO_API_KEY, DEMO_ENTRY_KEY, point_at_sandbox
from console.demo.traffic import CallReport, TrafficGenerator, TrafficPace, build_model, shutdown
from llmopt import OptimizedLLMWrapper
from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.sandbox import BatchOptions, FaultRule, SandboxServer, running_sandbox
from llmopt.store import Store

from ...waiting import wait_until
from ..conftest import seed

FAST = TrafficPace(
    interactive_every=(0.05, 0.1),
    stream_share=0.3,
    first_batch_after=0.2,
    batch_every=(1.0, 1.5),
    batch_size=(4, 8),
)
NO_BATCHES = TrafficPace(interactive_every=(0.05, 0.1), stream_share=0.3, first_batch_after=3600)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    slow_enough = BatchOptions(item_seconds=0.3, parallelism=4)  # a batch takes a second or two
    with running_sandbox(api_keys=frozenset({DEMO_API_KEY}), batches=slow_enough) as server:
        yield server


def seed_demo(store: Store, sandbox: SandboxServer, **configuration: Any) -> None:
    body = copy.deepcopy(DEMO_AICONFIGS)
    body["llm"][0]["configuration"].update(configuration)
    seed(store, body)
    point_at_sandbox(store, sandbox.base_url)
    release_kill_switch(store, actor="test")


@contextmanager
def traffic(
    store: Store, pace: TrafficPace
) -> Iterator[tuple[OptimizedLLMWrapper, list[CallReport]]]:
    model = build_model(store, DEMO_ENTRY_KEY)
    assert isinstance(model, OptimizedLLMWrapper)
    reports: list[CallReport] = []
    generator = TrafficGenerator(model, pace=pace, on_call=reports.append, seed=7)
    thread = threading.Thread(target=asyncio.run, args=(generator.run(),))
    thread.start()
    try:
        yield model, reports
    finally:
        generator.stop()
        thread.join(timeout=30)
        shutdown(model)
    assert not thread.is_alive(), "the generator did not stop"


def test_the_traffic_saves_money_with_cache_reads_and_batches_that_end(
    store: Store, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    seed_demo(store, sandbox)
    started = datetime.now(UTC)
    with caplog.at_level(logging.INFO), traffic(store, FAST) as (_, reports):
        wait_until(
            lambda: (
                any(r.path == "cached" and r.cache_read_tokens for r in reports)
                and any(r.kind == "batch" and r.path == "batched" for r in reports)
                and any(b.status == "ended" for b in store.list_batches())
            ),
            timeout=60,
        )
    rollups = store.usage(
        start=started - timedelta(minutes=1),
        end=datetime.now(UTC) + timedelta(minutes=1),
        entry_key=DEMO_ENTRY_KEY,
    )
    cost = sum(r.cost_usd for r in rollups)
    baseline = sum(r.baseline_cost_usd for r in rollups)
    assert 0 < cost < baseline
    assert sum(r.cache_read_tokens for r in rollups) > 0
    assert sum(r.batched_calls for r in rollups) > 0
    assert sandbox.billing().total.batch_requests_succeeded > 0
    assert "batched" in caplog.text and "cached" in caplog.text
    assert DEMO_API_KEY not in caplog.text


def test_each_call_reports_the_tokens_the_provider_billed_and_a_cache_write_as_cached(
    store: Store, sandbox: SandboxServer
) -> None:
    seed_demo(store, sandbox)
    model = build_model(store, DEMO_ENTRY_KEY)
    generator = TrafficGenerator(model, pace=NO_BATCHES, seed=7)

    async def three_calls() -> list[CallReport]:
        return [
            await generator.invoke_once(),
            await generator.stream_once(),
            await generator.invoke_once(),
        ]

    try:
        reports = asyncio.run(three_calls())
    finally:
        shutdown(model)
    billed = sandbox.billing().total
    # The first call writes the shared system prompt to the cache: that is not standard.
    assert reports[0].path == "cached" and reports[0].cache_write_tokens > 0
    assert [r.path for r in reports[1:]] == ["cached", "cached"]
    assert all(r.cache_read_tokens > 0 for r in reports[1:])
    assert sum(r.cache_write_tokens for r in reports) == (
        billed.cache_write_5m_tokens + billed.cache_write_1h_tokens
    )
    assert sum(r.cache_read_tokens for r in reports) == billed.cache_read_tokens
    assert sum(r.input_tokens for r in reports) == billed.input_tokens
    assert sum(r.output_tokens for r in reports) == billed.output_tokens


def test_the_kill_switch_makes_later_calls_plain_and_releasing_it_brings_caching_back(
    store: Store, sandbox: SandboxServer
) -> None:
    seed_demo(store, sandbox)
    with traffic(store, NO_BATCHES) as (model, reports):
        assert model.watcher is not None
        wait_until(lambda: any(r.path == "cached" for r in reports))

        engage_kill_switch(store, actor="oncall", reason="test")
        assert model.watcher.wait_for(lambda s: s.kill_switch_engaged, timeout=2.5)
        observed = time.monotonic()

        def done_after(moment: float, count: int) -> list[CallReport]:
            return [r for r in list(reports) if r.started_at > moment][:count]

        wait_until(lambda: len(done_after(observed, 1)) == 1)
        before = sandbox.billing().total
        wait_until(lambda: len(done_after(observed, 5)) == 5)
        after = sandbox.billing().total
        assert {r.path for r in done_after(observed, 5)} == {"standard"}
        assert after.requests_succeeded > before.requests_succeeded
        assert after.cache_read_tokens == before.cache_read_tokens
        assert after.cache_write_5m_tokens == before.cache_write_5m_tokens

        release_kill_switch(store, actor="oncall", reason="test over")
        assert model.watcher.wait_for(lambda s: not s.kill_switch_engaged, timeout=2.5)
        restored = time.monotonic()
        wait_until(lambda: len(done_after(restored, 3)) == 3)
        assert {r.path for r in done_after(restored, 3)} == {"cached"}
        assert sandbox.billing().total.cache_read_tokens > after.cache_read_tokens


def test_the_traffic_logs_sandbox_errors_and_carries_on(
    store: Store, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    seed_demo(store, sandbox, maxRetries=0)
    sandbox.add_fault(FaultRule.fail_rate(1.0, "overloaded"))
    with caplog.at_level(logging.INFO), traffic(store, NO_BATCHES) as (_, reports):
        wait_until(lambda: sum(r.path == "failed" for r in reports) >= 3)
        sandbox.clear_faults()
        failed = len(reports)
        wait_until(lambda: any(r.path == "cached" for r in reports[failed:]))
    failures = [r for r in reports if r.path == "failed"]
    assert all(r.error and "Overloaded" in r.error for r in failures)
    assert "failed" in caplog.text and "overloaded" in caplog.text.lower()
    assert DEMO_API_KEY not in caplog.text


def test_pointing_the_demo_entry_at_the_sandbox_is_one_audited_write(store: Store) -> None:
    seed(store, DEMO_AICONFIGS)
    assert point_at_sandbox(store, "http://127.0.0.1:9999")
    assert not point_at_sandbox(store, "http://127.0.0.1:9999")
    [change] = [a for a in store.list_audit() if a.action == "config.update"]
    assert change.after["baseUrl"] == "http://127.0.0.1:9999"
    assert DEMO_API_KEY not in str(change.before) + str(change.after)
