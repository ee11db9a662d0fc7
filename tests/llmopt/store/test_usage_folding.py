"""Hourly roll-ups: folding minutes into hours changes what is stored, never what is read."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from llmopt.store import Store, UsageRollup
from llmopt.store._records import USAGE_COUNTERS

from .conftest import START

HOUR = timedelta(hours=1)
DAY_AFTER = START + timedelta(days=1)


def _rollup(minute: datetime, entry_key: str = "e1", **counters: Any) -> UsageRollup:
    return UsageRollup(minute=minute, entry_key=entry_key, **counters)


def _summed_per_hour(rows: list[UsageRollup]) -> list[dict[str, Any]]:
    """What ``usage_by_hour`` must equal: ``usage()`` rows summed per hour and entry."""
    sums: dict[tuple[datetime, str], dict[str, Any]] = defaultdict(
        lambda: dict.fromkeys(USAGE_COUNTERS, 0)
    )
    for row in rows:
        bucket = sums[(row.minute.replace(minute=0), row.entry_key)]
        for name in USAGE_COUNTERS:
            bucket[name] += getattr(row, name)
    return [
        {"minute": hour, "entry_key": entry, **counters}
        for (hour, entry), counters in sorted(sums.items())
    ]


def _as_dicts(rows: list[UsageRollup]) -> list[dict[str, Any]]:
    return [row.model_dump() for row in rows]


def _approx(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Float sums may differ in the last bits with the order they were added in.
    return [
        {k: pytest.approx(v) if isinstance(v, float) else v for k, v in r.items()} for r in rows
    ]


def _assert_by_hour_matches_minutes(
    store: Store, start: datetime, end: datetime, entry_key: str | None = None
) -> None:
    by_hour = store.usage_by_hour(start=start, end=end, entry_key=entry_key)
    minutes = store.usage(start=start, end=end, entry_key=entry_key)
    assert _as_dicts(by_hour) == _approx(_summed_per_hour(minutes))


def test_usage_by_hour_sums_the_minutes_of_each_hour_and_entry(store: Store) -> None:
    store.add_usage(
        [
            _rollup(START, calls=1, cost_usd=0.5),
            _rollup(START + timedelta(minutes=59), calls=2, cost_usd=0.25),
            _rollup(START + timedelta(minutes=60), calls=4),
            _rollup(START + timedelta(minutes=5), "e2", calls=8, optimized_calls=3),
        ]
    )

    rows = store.usage_by_hour(start=START, end=START + 2 * HOUR)

    assert [(r.minute, r.entry_key, r.calls, r.optimized_calls) for r in rows] == [
        (START, "e1", 3, 0),
        (START, "e2", 8, 3),
        (START + HOUR, "e1", 4, 0),
    ]
    assert rows[0].cost_usd == pytest.approx(0.75)


def test_folding_writes_one_hourly_rollup_per_hour_and_entry_and_reads_the_same(
    store: Store,
) -> None:
    store.add_usage(
        _rollup(START + timedelta(minutes=m), entry, calls=1, input_tokens=m, cost_usd=0.1)
        for m in range(0, 180, 7)
        for entry in ("e1", "e2")
    )
    before = store.usage_by_hour(start=START, end=DAY_AFTER)

    written = store.fold_usage(through=START + 3 * HOUR)

    assert written == 6
    assert _as_dicts(store.usage_by_hour(start=START, end=DAY_AFTER)) == _approx(_as_dicts(before))


def test_folding_again_through_the_same_time_writes_nothing_and_changes_nothing(
    store: Store,
) -> None:
    store.add_usage([_rollup(START, calls=2), _rollup(START + HOUR, calls=3)])
    assert store.fold_usage(through=START + 2 * HOUR) == 2
    folded = store.usage_by_hour(start=START, end=DAY_AFTER)

    assert store.fold_usage(through=START + 2 * HOUR) == 0
    assert store.fold_usage(through=START + HOUR) == 0

    assert store.usage_by_hour(start=START, end=DAY_AFTER) == folded


def test_folding_stops_at_the_start_of_the_hour_through_falls_in(store: Store) -> None:
    store.add_usage([_rollup(START + timedelta(minutes=10), calls=1)])
    store.add_usage([_rollup(START + timedelta(minutes=70), calls=2)])

    assert store.fold_usage(through=START + timedelta(minutes=90)) == 1

    # The hour still in progress stays in minutes: a later minute of it is summed in too.
    store.add_usage([_rollup(START + timedelta(minutes=80), calls=4)])
    rows = store.usage_by_hour(start=START, end=DAY_AFTER)
    assert [(r.minute, r.calls) for r in rows] == [(START, 1), (START + HOUR, 6)]


def test_a_late_minute_of_a_folded_hour_is_added_to_that_hour(store: Store) -> None:
    store.add_usage([_rollup(START + timedelta(minutes=5), calls=1, cost_usd=0.5)])
    store.fold_usage(through=START + 2 * HOUR)

    store.add_usage([_rollup(START + timedelta(minutes=30), calls=2, cost_usd=0.25)])

    [hour] = store.usage_by_hour(start=START, end=DAY_AFTER)
    assert (hour.minute, hour.calls, hour.cost_usd) == (START, 3, pytest.approx(0.75))
    _assert_by_hour_matches_minutes(store, START, DAY_AFTER)


def test_a_late_minute_survives_pruning_the_minutes_of_its_hour(store: Store) -> None:
    store.fold_usage(through=START + 2 * HOUR)
    store.add_usage([_rollup(START + timedelta(minutes=30), calls=2)])

    counts = store.prune(usage_before=START + 2 * HOUR)

    assert counts["usage"] == 1
    assert store.usage(start=START, end=DAY_AFTER) == []
    [hour] = store.usage_by_hour(start=START, end=DAY_AFTER)
    assert (hour.minute, hour.calls) == (START, 2)


def test_pruning_never_deletes_minutes_that_are_not_folded_yet(store: Store) -> None:
    store.add_usage(_rollup(START + timedelta(minutes=m), calls=1) for m in (0, 59, 60, 119))

    assert store.prune(usage_before=DAY_AFTER)["usage"] == 0
    store.fold_usage(through=START + HOUR)
    assert store.prune(usage_before=DAY_AFTER)["usage"] == 2

    assert [r.minute for r in store.usage(start=START, end=DAY_AFTER)] == [
        START + timedelta(minutes=60),
        START + timedelta(minutes=119),
    ]
    assert [(r.minute, r.calls) for r in store.usage_by_hour(start=START, end=DAY_AFTER)] == [
        (START, 2),
        (START + HOUR, 2),
    ]


def test_pruning_hourly_rollups_deletes_only_hours_before_their_cutoff(store: Store) -> None:
    store.add_usage(_rollup(START + h * HOUR, calls=1) for h in range(4))
    store.fold_usage(through=START + 4 * HOUR)

    counts = store.prune(usage_hours_before=START + 2 * HOUR)

    assert counts["usage_hours"] == 2
    assert counts["usage"] == 0
    assert [r.minute for r in store.usage_by_hour(start=START, end=DAY_AFTER)] == [
        START + 2 * HOUR,
        START + 3 * HOUR,
    ]


def test_usage_by_hour_reads_a_half_open_range_and_one_entry(store: Store) -> None:
    store.add_usage(
        _rollup(START + h * HOUR + timedelta(minutes=3), entry, calls=1)
        for h in range(5)
        for entry in ("e1", "e2")
    )
    store.fold_usage(through=START + 2 * HOUR + timedelta(minutes=30))

    rows = store.usage_by_hour(start=START + HOUR, end=START + 4 * HOUR, entry_key="e2")

    assert [(r.minute - START, r.entry_key) for r in rows] == [
        (HOUR, "e2"),
        (2 * HOUR, "e2"),
        (3 * HOUR, "e2"),
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (START + timedelta(minutes=1), START + HOUR),
        (START, START + timedelta(minutes=90)),
        (START + timedelta(seconds=1), START + HOUR),
    ],
)
def test_usage_by_hour_refuses_bounds_that_are_not_whole_hours(
    store: Store, start: datetime, end: datetime
) -> None:
    with pytest.raises(ValueError, match="start of an hour"):
        store.usage_by_hour(start=start, end=end)


def test_usage_by_hour_of_an_empty_store_is_empty(store: Store) -> None:
    assert store.usage_by_hour(start=START, end=DAY_AFTER) == []
    assert store.fold_usage(through=DAY_AFTER) == 0
    assert store.usage_by_hour(start=START, end=DAY_AFTER) == []


@pytest.mark.parametrize("seed", range(6))
def test_usage_by_hour_equals_minutes_summed_per_hour_through_any_adds_and_folds(
    store: Store, seed: int
) -> None:
    """The contract property: adds (late ones too), folds and minute prunes in any order."""
    rng = random.Random(seed)
    window_end = START + 8 * HOUR
    everything: list[UsageRollup] = []
    for _ in range(25):
        action = rng.random()
        if action < 0.7:
            batch = [
                _rollup(
                    START + timedelta(minutes=rng.randrange(8 * 60)),
                    rng.choice(("e1", "e2", "e3")),
                    calls=rng.randrange(1, 5),
                    optimized_calls=rng.randrange(3),
                    input_tokens=rng.randrange(10_000),
                    cache_read_tokens=rng.randrange(10_000),
                    cost_usd=rng.random(),
                    baseline_cost_usd=rng.random(),
                )
                for _ in range(rng.randrange(1, 6))
            ]
            store.add_usage(batch)
            everything.extend(batch)
        else:
            store.fold_usage(through=START + timedelta(minutes=rng.randrange(9 * 60)))
        _assert_by_hour_matches_minutes(store, START, window_end)
        _assert_by_hour_matches_minutes(store, START + 2 * HOUR, START + 5 * HOUR, "e2")

    # Pruning every folded minute leaves the hourly totals of all that was ever added.
    store.prune(usage_before=window_end)
    expected = _summed_per_hour(sorted(everything, key=lambda r: (r.minute, r.entry_key)))
    assert _as_dicts(store.usage_by_hour(start=START, end=window_end)) == _approx(expected)
