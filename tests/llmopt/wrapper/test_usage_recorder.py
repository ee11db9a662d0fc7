from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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
        entry_key="o", provider="ollama", model="llama3.1", usage=TokenUsage(input_tokens=10)
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
