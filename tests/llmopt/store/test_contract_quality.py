"""The quality monitor's part of the store contract: per-minute quality roll-ups and
degradation alerts. Each test runs against every adapter."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from llmopt.store import QualityAlert, QualityRollup, SQLiteStore, Store

from .conftest import START, Clock

THREADS = 40


def _quality(
    minute: float = 0,
    entry_key: str = "e1",
    model: str = "m1",
    test: str = "",
    scores: tuple[float, ...] = (),
    **fields: object,
) -> QualityRollup:
    return QualityRollup.model_validate(
        {
            "minute": START + timedelta(minutes=minute),
            "entry_key": entry_key,
            "model": model,
            "test": test,
            "count": len(scores),
            "score_sum": sum(scores),
            "score_sq_sum": sum(s * s for s in scores),
            "passed": sum(1 for s in scores if s >= 0.5),
            **fields,
        }
    )


def _window(start: datetime, end: datetime | None = None) -> tuple[datetime, datetime]:
    return start, end or start + timedelta(days=1)


# -- roll-ups ----------------------------------------------------------------------


def test_quality_of_the_same_minute_entry_model_and_test_is_summed_key_by_key(
    store: Store,
) -> None:
    store.add_quality(
        [
            _quality(
                scores=(0.25, 0.75),
                fatal=1,
                check_sums={"format": 1.5, "length": 1.0},
                check_counts={"format": 2, "length": 1},
                flags={"truncated": 1},
                judge_cost_usd=0.01,
            )
        ]
    )
    store.add_quality(
        [
            _quality(
                scores=(1.0,),
                check_sums={"format": 1.0, "judge": 0.5},
                check_counts={"format": 1, "judge": 1},
                flags={"truncated": 2, "refusal": 1},
                judge_cost_usd=0.02,
            ),
            _quality(scores=(0.5,)),
        ]
    )

    [total] = store.quality_stats(start=START, end=START + timedelta(minutes=1))

    assert (total.count, total.passed, total.fatal) == (4, 3, 1)
    assert total.score_sum == pytest.approx(2.5)
    assert total.score_sq_sum == pytest.approx(0.0625 + 0.5625 + 1.0 + 0.25)
    assert total.check_sums == pytest.approx({"format": 2.5, "length": 1.0, "judge": 0.5})
    assert total.check_counts == {"format": 3, "length": 1, "judge": 1}
    assert total.flags == {"truncated": 3, "refusal": 1}
    assert total.judge_cost_usd == pytest.approx(0.03)


def test_quality_from_two_store_instances_on_one_file_is_summed(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "shared.sqlite3"
    first, second = SQLiteStore(path, clock=clock), SQLiteStore(path, clock=clock)
    try:
        first.add_quality([_quality(scores=(0.5,), flags={"refusal": 1})])
        second.add_quality([_quality(scores=(1.0,), flags={"refusal": 1})])

        [total] = first.quality_stats(start=START, end=START + timedelta(minutes=1))
    finally:
        first.close()
        second.close()

    assert total.count == 2 and total.score_sum == pytest.approx(1.5)
    assert total.flags == {"refusal": 2}


def test_quality_from_many_threads_loses_no_answer(store: Store) -> None:
    barrier = threading.Barrier(THREADS, timeout=30)

    def add(n: int) -> None:
        barrier.wait()
        store.add_quality(
            [_quality(scores=(1.0,), check_sums={f"c{n % 2}": 1.0}, check_counts={f"c{n % 2}": 1})]
        )

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(add, range(THREADS)))

    [total] = store.quality_stats(start=START, end=START + timedelta(minutes=1))
    assert total.count == THREADS and total.passed == THREADS
    assert total.check_counts == {"c0": THREADS // 2, "c1": THREADS // 2}


def test_quality_is_read_for_a_half_open_range_ordered_by_minute_entry_model_and_test(
    store: Store,
) -> None:
    store.add_quality(
        [
            _quality(2, "e1", "m1"),
            _quality(1, "e2", "m1"),
            _quality(1, "e1", "m2", "ab"),
            _quality(1, "e1", "m2"),
            _quality(1, "e1", "m1"),
            _quality(0, "e1", "m1"),
            _quality(3, "e1", "m1"),
        ]
    )

    read = store.quality_stats(start=START + timedelta(minutes=1), end=START + timedelta(minutes=3))

    one, two = START + timedelta(minutes=1), START + timedelta(minutes=2)
    assert [(r.minute, r.entry_key, r.model, r.test) for r in read] == [
        (one, "e1", "m1", ""),
        (one, "e1", "m2", ""),
        (one, "e1", "m2", "ab"),
        (one, "e2", "m1", ""),
        (two, "e1", "m1", ""),
    ]


def test_quality_filters_by_entry_and_by_test_where_empty_means_outside_any_test(
    store: Store,
) -> None:
    store.add_quality(
        [
            _quality(0, "e1", "m1", ""),
            _quality(0, "e1", "m2", "ab"),
            _quality(0, "e1", "m3", "cd"),
            _quality(0, "e2", "m1", "ab"),
        ]
    )
    start, end = _window(START)

    def labels(**filters: str | None) -> list[tuple[str, str, str]]:
        read = store.quality_stats(start=start, end=end, **filters)  # type: ignore[arg-type]
        return [(r.entry_key, r.model, r.test) for r in read]

    assert labels(entry_key="e1") == [("e1", "m1", ""), ("e1", "m2", "ab"), ("e1", "m3", "cd")]
    assert labels(test="") == [("e1", "m1", "")]
    assert labels(test="ab") == [("e1", "m2", "ab"), ("e2", "m1", "ab")]
    assert labels(entry_key="e2", test="ab") == [("e2", "m1", "ab")]
    assert len(labels(test=None)) == 4
    assert labels(entry_key="nobody") == []


def test_a_roll_up_that_cannot_be_summed_writes_none_of_the_others(store: Store) -> None:
    huge = _quality(1, score_sum=1e308)
    store.add_quality([huge])

    # Summed with the stored one, the second score sum is no longer finite.
    with pytest.raises(ValueError, match="finite"):
        store.add_quality([_quality(0, scores=(1.0,)), _quality(2, scores=(1.0,)), huge])

    assert store.quality_stats(start=START, end=START + timedelta(days=1)) == [huge]


def test_adding_no_quality_changes_nothing(store: Store) -> None:
    store.add_quality([])

    assert store.quality_stats(start=START, end=START + timedelta(days=1)) == []


# -- alerts ------------------------------------------------------------------------


def _alert(
    minutes: float = 0, entry_key: str = "e1", model: str = "", window: float = 0
) -> QualityAlert:
    return QualityAlert(
        entry_key=entry_key,
        model=model,
        window_start=START + timedelta(hours=window),
        at=START + timedelta(minutes=minutes),
        window_mean=0.55,
        baseline_mean=0.8,
        window_count=40,
        baseline_count=900,
        drop=0.2,
        detail="mean 0.55 over the last hour, 0.80 the week before",
    )


def test_a_quality_alert_is_recorded_once_per_entry_model_and_window(store: Store) -> None:
    assert store.add_quality_alert(_alert(0)) is True
    assert store.add_quality_alert(_alert(5)) is False
    assert store.add_quality_alert(_alert(6, model="m1")) is True
    assert store.add_quality_alert(_alert(7, window=1)) is True
    assert store.add_quality_alert(_alert(8, entry_key="e2")) is True

    assert store.list_quality_alerts(entry_key="e1") == [
        _alert(7, window=1),
        _alert(6, model="m1"),
        _alert(0),
    ]


def test_of_many_processes_alerting_the_same_window_exactly_one_records_it(
    store: Store,
) -> None:
    barrier = threading.Barrier(THREADS, timeout=30)

    def alert(n: int) -> bool:
        barrier.wait()
        return store.add_quality_alert(_alert(n))

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(alert, range(THREADS)))

    assert outcomes.count(True) == 1
    assert len(store.list_quality_alerts()) == 1


def test_quality_alerts_list_newest_first_since_a_time_and_as_many_as_asked(
    store: Store,
) -> None:
    for n, entry_key in enumerate(("e1", "e2", "e3")):
        store.add_quality_alert(_alert(n, entry_key=entry_key))

    assert [a.entry_key for a in store.list_quality_alerts()] == ["e3", "e2", "e1"]
    assert [a.entry_key for a in store.list_quality_alerts(limit=2)] == ["e3", "e2"]
    assert store.list_quality_alerts(limit=0) == []
    since = START + timedelta(minutes=1)
    assert [a.entry_key for a in store.list_quality_alerts(since=since)] == ["e3", "e2"]
    assert store.list_quality_alerts(entry_key="nobody") == []


def test_a_negative_limit_of_quality_alerts_is_a_value_error(store: Store) -> None:
    with pytest.raises(ValueError, match="negative"):
        store.list_quality_alerts(limit=-1)


# -- prune and datetimes -------------------------------------------------------------


def test_prune_deletes_old_quality_roll_ups_and_alerts_and_counts_them(store: Store) -> None:
    cutoff = START + timedelta(hours=1)
    store.add_quality([_quality(0, scores=(1.0,)), _quality(60, scores=(1.0,))])
    store.add_quality_alert(_alert(0))
    store.add_quality_alert(_alert(60, window=1))

    counts = store.prune(quality_before=cutoff, quality_alerts_before=cutoff)

    assert {k: v for k, v in counts.items() if v} == {"quality": 1, "quality_alerts": 1}
    read = store.quality_stats(start=START, end=START + timedelta(days=1))
    assert [r.minute for r in read] == [cutoff]
    assert [a.at for a in store.list_quality_alerts()] == [cutoff]


def test_prune_keeps_quality_records_unless_asked(store: Store) -> None:
    store.add_quality([_quality(0, scores=(1.0,))])
    store.add_quality_alert(_alert(0))

    counts = store.prune(route_stats_before=START + timedelta(days=1))

    assert counts["quality"] == 0 and counts["quality_alerts"] == 0
    assert len(store.quality_stats(start=START, end=START + timedelta(days=1))) == 1
    assert len(store.list_quality_alerts()) == 1


def test_naive_datetimes_in_quality_queries_are_rejected(store: Store) -> None:
    naive = datetime(2025, 3, 1, 12, 0)

    with pytest.raises(ValueError, match="timezone-aware"):
        store.quality_stats(start=naive, end=START)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.quality_stats(start=START, end=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.list_quality_alerts(since=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.prune(quality_before=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.prune(quality_alerts_before=naive)
