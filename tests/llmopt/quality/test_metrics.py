from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llmopt.quality import (
    ABTest,
    DegradationSettings,
    QualitySettings,
    QualitySummary,
    compare_arms,
    draw_arm,
    judge_degradation,
)
from llmopt.store import QualityRollup

START = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def rollup(
    entry: str,
    scores: Sequence[float],
    *,
    minute: datetime = START,
    model: str = "m",
    test: str = "",
    passed: int | None = None,
    **fields: Any,
) -> QualityRollup:
    """The roll-up of answers scoring ``scores`` (passing at 0.7 unless ``passed``)."""
    return QualityRollup(
        minute=minute,
        entry_key=entry,
        model=model,
        test=test,
        count=len(scores),
        score_sum=sum(scores),
        score_sq_sum=sum(s * s for s in scores),
        passed=sum(s >= 0.7 for s in scores) if passed is None else passed,
        **fields,
    )


def degradation(**fields: Any) -> DegradationSettings:
    return QualitySettings.from_dict({"degradation": fields}).degradation


def ab_test(**fields: Any) -> ABTest:
    raw = {"name": "t", "entries": ["a", "b"], "share": 0.5, "minSamples": 100, **fields}
    return QualitySettings.from_dict({"abTests": [raw]}).ab_tests[0]


# Summaries.


def test_a_summary_of_nothing_has_no_mean() -> None:
    summary = QualitySummary.of([])
    assert (summary.count, summary.mean, summary.variance, summary.pass_rate) == (
        0,
        None,
        None,
        None,
    )
    assert summary.to_dict()["count"] == 0


def test_a_summary_sums_roll_ups_of_any_minutes_entries_and_models() -> None:
    scores_1, scores_2, scores_3 = [0.9, 0.5], [0.8, 0.2, 1.0], [0.6]
    summary = QualitySummary.of(
        [
            rollup(
                "a",
                scores_1,
                fatal=1,
                check_sums={"relevance": 1.5},
                check_counts={"relevance": 2},
                flags={"truncated": 1},
            ),
            rollup(
                "a",
                scores_2,
                minute=START + timedelta(minutes=3),
                model="n",
                check_sums={"relevance": 0.5, "code": 0.0},
                check_counts={"relevance": 1, "code": 1},
                flags={"truncated": 2, "invalid_code": 1},
            ),
            rollup("b", scores_3),
        ]
    )
    everything = scores_1 + scores_2 + scores_3
    assert summary.count == 6
    assert summary.mean == pytest.approx(statistics.mean(everything))
    assert summary.variance == pytest.approx(statistics.variance(everything))
    assert (summary.passed, summary.fatal) == (3, 1)
    assert summary.pass_rate == pytest.approx(0.5)
    assert summary.check_means == {"relevance": pytest.approx(2.0 / 3), "code": 0.0}
    assert summary.flags == {"truncated": 3, "invalid_code": 1}
    assert summary.to_dict() == {
        "count": 6,
        "mean": summary.mean,
        "passRate": 0.5,
        "fatal": 1,
        "checks": summary.check_means,
        "flags": {"truncated": 3, "invalid_code": 1},
    }


# Degradation.


def test_too_few_answers_are_not_judged_however_low_they_score() -> None:
    verdict = judge_degradation(
        "a",
        [rollup("a", [0.0] * 19)],
        [rollup("a", [1.0] * 500)],
        degradation(minSamples=20),
        window_start=START,
    )
    assert not verdict.degraded
    assert verdict.window.count == 19 and verdict.baseline.count == 500
    assert "not enough answers" in verdict.reason and "19 in the window" in verdict.reason


def test_a_baseline_with_too_few_answers_is_not_judged() -> None:
    verdict = judge_degradation(
        "a", [rollup("a", [0.1] * 50)], [rollup("a", [0.9] * 5)], degradation(minSamples=20),
        window_start=START,
    )  # fmt: skip
    assert not verdict.degraded and "5 in the baseline" in verdict.reason


@pytest.mark.parametrize(("before", "after"), [(0.8, 0.7), (0.7, 0.6), (0.3, 0.2)])
def test_a_fall_of_exactly_the_drop_is_degraded(before: float, after: float) -> None:
    verdict = judge_degradation(
        "a",
        [rollup("a", [after] * 20)],
        [rollup("a", [before] * 40)],
        degradation(drop=0.1, minSamples=20),
        window_start=START,
    )
    assert verdict.degraded, verdict.reason
    assert verdict.window.mean == pytest.approx(after)
    assert verdict.baseline.mean == pytest.approx(before)
    assert "at least the 0.1 that alerts" in verdict.reason
    assert verdict.entry_key == "a" and verdict.window_start == START and verdict.drop == 0.1


def test_a_fall_within_the_drop_is_not_degraded() -> None:
    verdict = judge_degradation(
        "a",
        [rollup("a", [0.71] * 20)],
        [rollup("a", [0.8] * 20)],
        degradation(drop=0.1, minSamples=20),
        window_start=START,
    )
    assert not verdict.degraded
    assert "within the 0.1 allowed" in verdict.reason


def test_a_better_window_is_not_degraded() -> None:
    verdict = judge_degradation(
        "a", [rollup("a", [0.95] * 30)], [rollup("a", [0.5] * 30)], degradation(minSamples=20),
        window_start=START,
    )  # fmt: skip
    assert not verdict.degraded and "+0.450" in verdict.reason


# A/B tests.


def spread(mean: float, n: int, width: float = 0.1) -> list[float]:
    """``n`` scores around ``mean``, evenly spread over ``mean ± width``."""
    return [mean - width + 2 * width * i / (n - 1) for i in range(n)]


def test_an_arm_below_its_minimum_is_still_collecting() -> None:
    test = ab_test(minSamples=100)
    result = compare_arms(
        test, [rollup("a", [0.9] * 100, test="t"), rollup("b", [0.1] * 99, test="t")]
    )
    assert result.result is None and not result.significant and result.winner is None
    assert result.verdict == "collecting answers: a 100 and b 99 of the 100 each needs"
    assert result.to_dict()["test"] is None


def test_roll_ups_of_other_tests_and_plain_traffic_are_left_out() -> None:
    test = ab_test(minSamples=10)
    result = compare_arms(
        test,
        [
            rollup("a", [0.9] * 10, test="t"),
            rollup("b", [0.9] * 10, test="t"),
            rollup("a", [0.1] * 500, test=""),
            rollup("b", [0.1] * 500, test="other"),
        ],
    )
    assert [arm.count for arm in result.arms] == [10, 10]


def test_clearly_different_arms_are_significant_and_the_better_one_wins() -> None:
    test = ab_test(minSamples=100)
    rows = [
        rollup("a", spread(0.62, 80), test="t"),
        rollup("a", spread(0.62, 80), test="t", minute=START + timedelta(minutes=1)),
        rollup("b", spread(0.75, 150), test="t", model="other-model"),
    ]
    result = compare_arms(test, rows)
    assert result.result is not None and result.result.test == "welch_t"
    assert result.result.difference == pytest.approx(0.13)
    assert result.result.p_value < 1e-6
    assert result.significant and result.winner == "b"
    assert result.verdict.startswith("b has the higher mean score by 0.130")
    assert "a is worse" in result.verdict
    shown = result.to_dict()
    assert shown["winner"] == "b" and shown["significant"] is True
    assert shown["test"]["name"] == "welch_t" and shown["arms"][0]["count"] == 160


def test_the_first_entry_wins_when_it_is_better() -> None:
    test = ab_test(minSamples=50)
    rows = [rollup("a", spread(0.9, 60), test="t"), rollup("b", spread(0.7, 60), test="t")]
    result = compare_arms(test, rows)
    assert result.winner == "a"


def test_arms_from_the_same_distribution_are_not_significant() -> None:
    test = ab_test(minSamples=100)
    draws = random.Random(16)

    def arm(entry: str) -> QualityRollup:
        scores = [min(1.0, max(0.0, draws.gauss(0.7, 0.15))) for _ in range(400)]
        return rollup(entry, scores, test="t")

    result = compare_arms(test, [arm("a"), arm("b")])
    assert result.result is not None
    assert result.result.p_value > 0.05
    assert not result.significant and result.winner is None
    assert result.verdict.startswith("no significant difference in mean score")


def test_the_pass_metric_compares_pass_counts_not_mean_scores() -> None:
    # Both arms score 0.7 on average, but b's answers pass far more often.
    a_rows = [rollup("a", [0.7] * 200, test="t", passed=60)]
    b_rows = [rollup("b", [0.7] * 200, test="t", passed=140)]
    by_score = compare_arms(ab_test(metric="score"), a_rows + b_rows)
    by_pass = compare_arms(ab_test(metric="pass"), a_rows + b_rows)
    assert not by_score.significant
    assert by_pass.result is not None and by_pass.result.test == "two_proportion_z"
    assert by_pass.result.difference == pytest.approx(0.4)
    assert by_pass.significant and by_pass.winner == "b"
    assert "higher pass rate by 0.400" in by_pass.verdict


def test_equal_pass_rates_are_no_difference() -> None:
    rows = [
        rollup("a", [0.9] * 100, test="t", passed=50),
        rollup("b", [0.2] * 100, test="t", passed=50),
    ]
    result = compare_arms(ab_test(metric="pass"), rows)
    assert result.result is not None and result.result.p_value == pytest.approx(1.0)
    assert not result.significant


# Drawing arms.


def ab_tests(*specs: tuple[str, float, bool]) -> tuple[ABTest, ...]:
    raw = [
        {"name": name, "entries": [f"{name}-1", f"{name}-2"], "share": share, "enabled": on}
        for name, share, on in specs
    ]
    return QualitySettings.from_dict({"abTests": raw}).ab_tests


def keys(n: int = 20_000) -> list[str]:
    draws = random.Random(1616)
    return [f"user-{draws.getrandbits(64):016x}" for _ in range(n)]


def test_the_same_key_always_lands_in_the_same_arm() -> None:
    tests = ab_tests(("x", 0.5, True), ("y", 0.4, True))
    for key in keys(200):
        assert draw_arm(tests, key) == draw_arm(tests, key)


def test_tests_take_their_shares_split_evenly_between_their_entries() -> None:
    tests = ab_tests(("x", 0.3, True), ("y", 0.2, True))
    landed = Counter(
        None if (drawn := draw_arm(tests, key)) is None else drawn[1] for key in keys()
    )
    n = sum(landed.values())
    expected = {"x-1": 0.15, "x-2": 0.15, "y-1": 0.1, "y-2": 0.1, None: 0.5}
    for arm, share in expected.items():
        assert landed[arm] / n == pytest.approx(share, abs=0.02), (arm, landed)
    assert set(landed) == set(expected)


def test_a_disabled_test_takes_no_slice() -> None:
    tests = ab_tests(("off", 0.6, False), ("on", 0.3, True))
    drawn = [draw_arm(tests, key) for key in keys()]
    assert all(d is None or d[0].name == "on" for d in drawn)
    taken = sum(d is not None for d in drawn) / len(drawn)
    assert taken == pytest.approx(0.3, abs=0.02)


def test_all_traffic_taken_leaves_no_key_outside() -> None:
    tests = ab_tests(("x", 0.5, True), ("y", 0.5, True))
    assert all(draw_arm(tests, key) is not None for key in keys(2_000))


def test_no_running_test_draws_nothing() -> None:
    assert draw_arm((), "user-1") is None
    assert draw_arm(ab_tests(("x", 1.0, False)), "user-1") is None
