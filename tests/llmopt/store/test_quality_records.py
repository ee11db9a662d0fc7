"""The quality records: a minute's roll-up of scored answers, its sums and statistics, and
the degradation alert."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from llmopt.store import QualityAlert, QualityRollup

from .conftest import START


def _scored(scores: list[float], **fields: object) -> QualityRollup:
    return QualityRollup.model_validate(
        {
            "minute": START,
            "entry_key": "e1",
            "model": "m1",
            "count": len(scores),
            "score_sum": sum(scores),
            "score_sq_sum": sum(s * s for s in scores),
            **fields,
        }
    )


def test_a_quality_rollup_minute_is_truncated_and_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))

    rollup = QualityRollup(
        minute=datetime(2025, 3, 1, 14, 5, 59, 999, tzinfo=plus_two), entry_key="e", model="m"
    )

    assert rollup.minute == datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    assert rollup.test == "" and rollup.count == 0 and rollup.flags == {}


def test_a_quality_rollup_with_a_naive_minute_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        QualityRollup(minute=datetime(2025, 3, 1, 12, 5), entry_key="e", model="m")


def test_adding_quality_rollups_sums_every_counter_check_and_flag() -> None:
    a = _scored(
        [0.2, 0.9],
        passed=1,
        fatal=1,
        check_sums={"format": 1.0, "length": 0.5},
        check_counts={"format": 2, "length": 1},
        flags={"refusal": 1},
        judge_cost_usd=0.01,
    )
    b = _scored(
        [0.7],
        passed=1,
        check_sums={"format": 1.0, "judge": 0.7},
        check_counts={"format": 1, "judge": 1},
        flags={"refusal": 1, "truncated": 1},
        judge_cost_usd=0.02,
    )

    total = a + b

    assert (total.minute, total.entry_key, total.model, total.test) == (START, "e1", "m1", "")
    assert (total.count, total.passed, total.fatal) == (3, 2, 1)
    assert total.score_sum == pytest.approx(1.8)
    assert total.score_sq_sum == pytest.approx(0.04 + 0.81 + 0.49)
    assert total.check_sums == pytest.approx({"format": 2.0, "length": 0.5, "judge": 0.7})
    assert total.check_counts == {"format": 3, "length": 1, "judge": 1}
    assert total.flags == {"refusal": 2, "truncated": 1}
    assert total.judge_cost_usd == pytest.approx(0.03)


@pytest.mark.parametrize(
    "other",
    [
        {"minute": START + timedelta(minutes=1)},
        {"entry_key": "e2"},
        {"model": "m2"},
        {"test": "ab"},
    ],
)
def test_quality_rollups_of_different_minutes_entries_models_or_tests_do_not_add(
    other: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="same minute, entry_key, model and test"):
        _ = _scored([1.0]) + _scored([1.0], **other)


def test_folding_quality_rollups_sums_any_of_them_under_the_given_labels() -> None:
    rollups = [
        _scored([0.5], flags={"truncated": 1}),
        _scored([1.0], entry_key="e2", model="m2", test="ab", passed=1),
        _scored([0.0, 0.25], check_sums={"judge": 0.25}, check_counts={"judge": 2}),
    ]
    hour = START.replace(minute=0)

    total = QualityRollup.fold(rollups, minute=hour, entry_key="all")

    assert (total.minute, total.entry_key, total.model, total.test) == (hour, "all", "", "")
    assert (total.count, total.passed) == (4, 1)
    assert total.mean == pytest.approx(1.75 / 4)
    assert total.flags == {"truncated": 1}
    assert total.check_means == {"judge": 0.125}


def test_folding_no_quality_rollups_gives_zeros() -> None:
    total = QualityRollup.fold([], minute=START, entry_key="e1", model="m1", test="ab")

    assert total == QualityRollup(minute=START, entry_key="e1", model="m1", test="ab")
    assert total.mean is None and total.variance is None and total.pass_rate is None
    assert total.check_means == {}


@pytest.mark.parametrize(
    "scores",
    [
        [0.2, 0.9],
        [0.1, 0.5, 0.5, 0.8, 1.0],
        [0.3] * 7,
        [0.0, 1.0, 0.0, 1.0],
        [0.1 * n for n in range(11)],
    ],
)
def test_mean_and_variance_match_the_statistics_module(scores: list[float]) -> None:
    halves = [_scored(scores[: len(scores) // 2]), _scored(scores[len(scores) // 2 :])]

    total = QualityRollup.fold(halves, minute=START, entry_key="e1")

    assert total.mean == pytest.approx(statistics.mean(scores))
    assert total.variance == pytest.approx(statistics.variance(scores), abs=1e-12)


def test_the_variance_of_equal_scores_is_never_negative() -> None:
    rollup = _scored([0.1] * 3)

    assert rollup.variance is not None and rollup.variance >= 0.0


def test_the_variance_needs_two_answers_and_the_mean_one() -> None:
    one = _scored([0.75])

    assert one.mean == 0.75 and one.variance is None
    assert _scored([]).mean is None


def test_the_pass_rate_and_check_means_are_over_the_answers_counted() -> None:
    rollup = _scored(
        [1.0, 0.4, 0.8, 0.6],
        passed=3,
        check_sums={"format": 3.0, "judge": 0.5, "unused": 0.0},
        check_counts={"format": 4, "judge": 1, "unused": 0},
    )

    assert rollup.pass_rate == 0.75
    assert rollup.check_means == {"format": 0.75, "judge": 0.5}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": -1}, "greater than or equal to 0"),
        ({"passed": -1}, "greater than or equal to 0"),
        ({"fatal": -1}, "greater than or equal to 0"),
        ({"count": 1, "passed": 2}, "passed .2. exceeds count .1."),
        ({"count": 1, "fatal": 2}, "fatal .2. exceeds count .1."),
        ({"score_sum": math.inf}, "finite"),
        ({"score_sq_sum": math.nan}, "finite"),
        ({"judge_cost_usd": -math.inf}, "finite"),
        ({"check_sums": {"judge": math.nan}}, "finite"),
        ({"check_counts": {"judge": -1}}, "greater than or equal to 0"),
        ({"flags": {"refusal": -2}}, "greater than or equal to 0"),
    ],
)
def test_a_quality_rollup_refuses_negative_counts_non_finite_numbers_and_too_many_outcomes(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        QualityRollup.model_validate({"minute": START, "entry_key": "e", "model": "m", **fields})


def test_a_quality_rollup_is_frozen_and_round_trips_through_json() -> None:
    rollup = _scored([0.5, 1.0], passed=1, check_sums={"a": 1.5}, check_counts={"a": 2})

    with pytest.raises(ValidationError):
        rollup.count = 5  # type: ignore[misc]
    assert QualityRollup.model_validate_json(rollup.model_dump_json()) == rollup


def test_a_quality_alert_keeps_utc_times_and_refuses_negative_counts() -> None:
    plus_two = timezone(timedelta(hours=2))
    alert = QualityAlert(
        entry_key="e1",
        window_start=datetime(2025, 3, 1, 14, tzinfo=plus_two),
        at=datetime(2025, 3, 1, 15, tzinfo=plus_two),
        window_mean=0.5,
        baseline_mean=0.8,
        window_count=30,
        baseline_count=600,
        drop=0.2,
    )

    assert alert.model == "" and alert.window_start == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert QualityAlert.model_validate_json(alert.model_dump_json()) == alert
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        QualityAlert.model_validate({**alert.model_dump(), "window_count": -1})
