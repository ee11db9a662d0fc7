"""usage_summary: usage_by_hour summed in the store, per bucket and optionally per entry."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from llmopt.store import Store, UsageBucket, UsageRollup
from llmopt.store._records import USAGE_COUNTERS

from .conftest import START

HOUR = timedelta(hours=1)
# START is noon: a window from it crosses two UTC midnights.
WINDOW_END = START + 40 * HOUR


def _expected(
    hours: list[UsageRollup], start: datetime, bucket: UsageBucket | None, by_entry: bool
) -> list[dict[str, Any]]:
    """What ``usage_summary`` must equal: ``usage_by_hour`` rows summed in Python."""
    sums: dict[tuple[datetime, str], dict[str, Any]] = defaultdict(
        lambda: dict.fromkeys(USAGE_COUNTERS, 0)
    )
    for row in hours:
        at = {"hour": row.minute, "day": row.minute.replace(hour=0), None: start}[bucket]
        totals = sums[(at, row.entry_key if by_entry else "")]
        for name in USAGE_COUNTERS:
            totals[name] += getattr(row, name)
    return [
        {
            "minute": at,
            "entry_key": entry,
            **{k: pytest.approx(v) if isinstance(v, float) else v for k, v in counters.items()},
        }
        for (at, entry), counters in sorted(sums.items())
    ]


def _assert_summary_matches_hours(
    store: Store, start: datetime, end: datetime, entry_key: str | None = None
) -> None:
    hours = store.usage_by_hour(start=start, end=end, entry_key=entry_key)
    for bucket in ("hour", "day", None):
        for by_entry in (False, True):
            summary = store.usage_summary(
                start=start, end=end, bucket=bucket, by_entry=by_entry, entry_key=entry_key
            )
            assert [r.model_dump() for r in summary] == _expected(hours, start, bucket, by_entry)


@pytest.mark.parametrize("seed", range(4))
def test_usage_summary_equals_usage_by_hour_summed_through_any_adds_and_folds(
    store: Store, seed: int
) -> None:
    """The contract property, with late adds and folds moving the watermark in between."""
    rng = random.Random(seed)
    for _ in range(15):
        if rng.random() < 0.7:
            store.add_usage(
                UsageRollup(
                    minute=START + timedelta(minutes=rng.randrange(40 * 60)),
                    entry_key=rng.choice(("e1", "e2", "e3")),
                    calls=rng.randrange(1, 5),
                    errors=rng.randrange(2),
                    input_tokens=rng.randrange(10_000),
                    cost_usd=rng.random(),
                    baseline_cost_usd=rng.random(),
                    unread_write_tokens_1h=rng.randrange(3_000),
                    missed_read_tokens=rng.randrange(3_000),
                    write_cost_usd=rng.random(),
                    missed_read_cost_usd=rng.random(),
                )
                for _ in range(rng.randrange(1, 8))
            )
        else:
            store.fold_usage(through=START + timedelta(minutes=rng.randrange(41 * 60)))
        _assert_summary_matches_hours(store, START, WINDOW_END)
        _assert_summary_matches_hours(store, START + 3 * HOUR, START + 30 * HOUR, "e2")


def test_a_summary_of_the_whole_range_is_one_row_stamped_with_its_start(store: Store) -> None:
    store.add_usage(
        [
            UsageRollup(minute=START, entry_key="e1", calls=2, cost_usd=0.5),
            UsageRollup(minute=START + 5 * HOUR, entry_key="e2", calls=3, cost_usd=0.25),
            UsageRollup(minute=WINDOW_END, entry_key="e1", calls=100),  # past the end
        ]
    )
    store.fold_usage(through=START + 2 * HOUR)
    [total] = store.usage_summary(start=START, end=WINDOW_END)
    assert (total.minute, total.entry_key, total.calls, total.cost_usd) == (START, "", 5, 0.75)
    per_entry = store.usage_summary(start=START, end=WINDOW_END, by_entry=True)
    assert [(r.entry_key, r.calls) for r in per_entry] == [("e1", 2), ("e2", 3)]


def test_day_buckets_start_at_utc_midnight_even_when_the_range_does_not(store: Store) -> None:
    store.add_usage([UsageRollup(minute=START + HOUR, entry_key="e1", calls=1)])
    [day] = store.usage_summary(start=START, end=WINDOW_END, bucket="day")
    assert day.minute == START.replace(hour=0)


def test_an_empty_range_summarises_to_nothing(store: Store) -> None:
    assert store.usage_summary(start=START, end=WINDOW_END) == []
    assert store.usage_summary(start=START, end=WINDOW_END, bucket="day", by_entry=True) == []


def test_usage_summary_refuses_bad_bounds_and_buckets(store: Store) -> None:
    with pytest.raises(ValueError, match="start of an hour"):
        store.usage_summary(start=START + timedelta(minutes=1), end=WINDOW_END)
    with pytest.raises(ValueError, match="bucket"):
        store.usage_summary(start=START, end=WINDOW_END, bucket="week")  # type: ignore[arg-type]
