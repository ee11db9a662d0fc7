"""Usage as the tests put it in the store: two entries' roll-ups around ``NOW``, the
console's clock frozen there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console.clock import CLOCK
from llmopt.store import Store, UsageRollup

from ..conftest import seed

NOW = datetime(2026, 3, 15, 14, 20, 30, tzinfo=UTC)
SONNET = "anthropic:claude-sonnet-4-6"
OLLAMA = "ollama:llama3.1"


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[None]:
    """Every test of usage runs at ``NOW``."""
    with CLOCK.frozen(NOW):
        yield


def rollup(ago: timedelta, entry_key: str = SONNET, **counters: Any) -> UsageRollup:
    return UsageRollup(minute=NOW - ago, entry_key=entry_key, **counters)


def seed_usage(store: Store) -> None:
    seed(store)
    store.add_usage(
        [
            # 14:05 today: the current hour, never folded by the tests below.
            rollup(
                timedelta(minutes=15),
                calls=4,
                optimized_calls=3,
                input_tokens=1_000,
                cache_write_tokens=1_000,
                cache_read_tokens=8_000,
                output_tokens=400,
                cost_usd=0.0125,
                baseline_cost_usd=0.0400,
                # What caching wasted: 30% of the write spend, and reads missed.
                write_cost_usd=0.0050,
                unread_write_tokens_5m=400,
                unread_write_cost_usd=0.0015,
                missed_read_tokens=1_000,
                missed_read_cost_usd=0.0027,
            ),
            # 11:50 today.
            rollup(
                timedelta(hours=2, minutes=30),
                calls=6,
                optimized_calls=6,
                batched_calls=2,
                input_tokens=2_000,
                cache_read_tokens=2_000,
                output_tokens=600,
                cost_usd=0.0075,
                baseline_cost_usd=0.0100,
                errors=1,
                missed_read_tokens=300,
                missed_read_cost_usd=0.0009,
            ),
            rollup(timedelta(hours=3), OLLAMA, calls=5, input_tokens=500, unpriced_calls=5),
            # Two days ago: only in the 7-day and 30-day ranges.
            rollup(timedelta(days=2), calls=100, cost_usd=1.5, baseline_cost_usd=3.0),
        ]
    )
