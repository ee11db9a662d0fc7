from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llmopt.caching import Breakpoint, CachePlan
from llmopt.errors import StoreError
from llmopt.providers import TokenUsage
from llmopt.store import SQLiteStore
from llmopt.wrapper import UsageRecorder

T0 = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_calls_are_summed_per_minute_and_entry_and_priced_on_flush() -> None:
    store, clock = SQLiteStore(":memory:"), Clock()
    recorder = UsageRecorder(store, clock=clock)
    usage = TokenUsage(
        input_tokens=1_000, cache_read_tokens=10_000, cache_write_5m_tokens=2_000, output_tokens=500
    )
    for _ in range(3):
        recorder.record(entry_key="a", provider="anthropic", model="claude-sonnet-4-6", usage=usage)
    recorder.record(
        entry_key="a", provider="anthropic", model="claude-sonnet-4-6", usage=None, error=True
    )
    clock.now = T0 + timedelta(minutes=1)
    recorder.record(
        entry_key="a", provider="anthropic", model="claude-sonnet-4-6", usage=usage, fallback=True
    )
    assert store.usage(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1)) == []

    assert recorder.flush() == 2
    first, second = store.usage(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert (first.calls, first.errors, first.input_tokens, first.cache_read_tokens) == (
        4,
        1,
        3_000,
        30_000,
    )
    assert (second.calls, second.fallbacks) == (1, 1)
    # Sonnet 4.5 at $3/M input, $15/M output: 1,000 + 2,000*1.25 + 10,000*0.1 input-equivalents
    # = 4,500 * 3/M = 0.0135, plus 500 * 15/M = 0.0075 -> 0.021 per call
    assert first.cost_usd == pytest.approx(3 * 0.021)
    # Unoptimized: 13,000 input * 3/M + 0.0075 = 0.0465 per call
    assert first.baseline_cost_usd == pytest.approx(3 * 0.0465)


def test_an_unknown_model_is_counted_as_unpriced_not_free() -> None:
    store = SQLiteStore(":memory:")
    recorder = UsageRecorder(store, clock=Clock())
    recorder.record(
        entry_key="g", provider="groq", model="llama-3.3-70b", usage=TokenUsage(input_tokens=10)
    )
    recorder.flush()
    [row] = store.usage(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert (row.unpriced_calls, row.cost_usd) == (1, 0.0)


class DownStore(SQLiteStore):
    down = True

    def add_usage(self, rollups: Any) -> None:
        if self.down:
            raise StoreError("store down")
        super().add_usage(rollups)


def test_usage_survives_a_store_outage_and_is_written_later() -> None:
    store = DownStore(":memory:")
    recorder = UsageRecorder(store, clock=Clock())
    recorder.record(
        entry_key="a",
        provider="anthropic",
        model="claude-sonnet-4-6",
        usage=TokenUsage(input_tokens=5),
    )
    assert recorder.flush() == 0
    recorder.record(
        entry_key="a",
        provider="anthropic",
        model="claude-sonnet-4-6",
        usage=TokenUsage(input_tokens=7),
    )
    store.down = False
    assert recorder.flush() == 1
    [row] = store.usage(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert (row.calls, row.input_tokens) == (2, 12)


def test_optimized_calls_are_counted_apart_from_standard_ones() -> None:
    store = SQLiteStore(":memory:")
    recorder = UsageRecorder(store, clock=Clock())
    for optimized in (True, True, False):
        recorder.record(
            entry_key="a",
            provider="anthropic",
            model="claude-sonnet-4-6",
            usage=TokenUsage(input_tokens=10),
            optimized=optimized,
        )
    recorder.flush()
    [row] = store.usage(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert (row.calls, row.optimized_calls) == (3, 2)


def _plan(n: int = 0, **counts: Any) -> CachePlan:
    marker = Breakpoint("system[0]", 300, 2_048, "planner", f"reason {n}")
    return CachePlan(
        payload={"system": "the prompt itself, never stored"},
        breakpoints=(marker,),
        decisions=(f"decision {n}",),
        changed=True,
        content_blocks=3,
        estimated_tokens=2_500,
        **counts,
    )


def planned_call(recorder: UsageRecorder, clock: Clock, n: int, **counts: Any) -> None:
    """Call ``n``, ``n`` seconds after T0, with a plan saying ``reason n`` and ``decision n``."""
    clock.now = T0 + timedelta(seconds=n)
    recorder.record(
        entry_key="a",
        provider="anthropic",
        model="claude-sonnet-4-6",
        usage=TokenUsage(input_tokens=10),
        plan=_plan(n, **counts),
    )


def test_what_caching_wasted_is_flushed_priced_and_summed_by_the_store() -> None:
    store, clock = SQLiteStore(":memory:"), Clock()
    recorder = UsageRecorder(store, clock=clock)
    waste = {"unread_write_tokens_5m": 1_000, "unread_write_tokens_1h": 500}
    for minute in (0, 1):
        clock.now = T0 + timedelta(minutes=minute)
        recorder.record(
            entry_key="a",
            provider="anthropic",
            model="claude-sonnet-4-6",
            usage=TokenUsage(input_tokens=2_000, cache_write_5m_tokens=4_000),
            optimized=True,
            plan=_plan(**waste, missed_read_tokens=2_000),
        )
        # A batch call: its waste at half the price.
        recorder.record(
            entry_key="a",
            provider="anthropic",
            model="claude-sonnet-4-6",
            usage=TokenUsage(input_tokens=10, cache_write_5m_tokens=4_000, batch=True),
            optimized=True,
            plan=_plan(**waste),
        )
    assert recorder.flush() == 4

    hour = T0.replace(minute=0, second=0)
    [total] = store.usage_summary(start=hour, end=hour + timedelta(hours=1))
    per_token = 3 / 1_000_000
    assert (total.unread_write_tokens_5m, total.unread_write_tokens_1h) == (4_000, 2_000)
    assert total.missed_read_tokens == 4_000
    # Per minute: 4,000 written at 1.25x, standard and at half price in a batch.
    assert total.write_cost_usd == pytest.approx(2 * 1.5 * 4_000 * 1.25 * per_token)
    assert total.unread_write_cost_usd == pytest.approx(2 * 1.5 * 2_250 * per_token)
    assert total.missed_read_cost_usd == pytest.approx(2 * 2_000 * 0.9 * per_token)


def test_the_plans_reach_the_store_newest_first_without_the_request() -> None:
    store, clock = SQLiteStore(":memory:"), Clock()
    recorder = UsageRecorder(store, clock=clock)
    for n in range(3):
        planned_call(recorder, clock, n, missed_read_tokens=n)
    recorder.record(
        entry_key="plain", provider="anthropic", model="m", usage=TokenUsage(input_tokens=1)
    )
    recorder.flush()

    newest, *rest = store.recent_plans("a")
    assert [p.decisions for p in rest] == [("decision 1",), ("decision 0",)]
    assert newest.at == T0 + timedelta(seconds=2)
    assert (newest.model, newest.content_blocks, newest.estimated_tokens) == (
        "claude-sonnet-4-6",
        3,
        2_500,
    )
    [marker] = newest.breakpoints
    assert (marker.location, marker.ttl, marker.prefix_tokens, marker.reason) == (
        "system[0]",
        300,
        2_048,
        "reason 2",
    )
    assert newest.missed_read_tokens == 2
    assert "never stored" not in newest.model_dump_json()
    assert store.recent_plans("plain") == []  # a call without a plan records none


class PlansDownStore(SQLiteStore):
    down = True

    def add_plans(self, plans: Any, *, keep: int = 20) -> None:
        if self.down:
            raise StoreError("store down")
        super().add_plans(plans, keep=keep)


def test_plans_survive_a_store_outage_without_breaking_calls_or_growing_unbounded() -> None:
    store, clock = PlansDownStore(":memory:"), Clock()
    recorder = UsageRecorder(store, clock=clock)
    for n in range(15):
        planned_call(recorder, clock, n)
    assert recorder.flush() == 1  # the usage is written all the same
    for n in range(15, 30):
        planned_call(recorder, clock, n)
    store.down = False
    recorder.flush()

    kept = store.recent_plans("a", limit=100)
    assert [p.decisions[0] for p in kept] == [f"decision {n}" for n in range(29, 9, -1)]
    [row] = store.usage(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert row.calls == 30
