from __future__ import annotations

from decimal import Decimal

import pytest

from llmopt.quality._score import CAPPING, DEFAULT_WEIGHTS, CheckResult, combine


def test_the_combined_score_is_the_weighted_average_of_the_checks_that_ran() -> None:
    score = combine(
        [
            CheckResult("safety", 0.5, "a disclaimer"),
            CheckResult("relevance", 1.0, "on topic"),
            CheckResult("judge", 0.8, "good"),
        ]
    )
    safety, relevance, judge = (DEFAULT_WEIGHTS[n] for n in ("safety", "relevance", "judge"))
    expected = (0.5 * safety + relevance + 0.8 * judge) / (safety + relevance + judge)
    assert score.combined == pytest.approx(round(expected, 4))


@pytest.mark.parametrize("capping", sorted(CAPPING))
def test_a_check_against_something_certain_caps_the_combined_score(capping: str) -> None:
    score = combine(
        [
            CheckResult(capping, 0.25, "mostly wrong"),
            CheckResult("relevance", 1.0, "on topic"),
            CheckResult("safety", 1.0, "fine"),
        ]
    )
    assert score.combined == 0.25
    assert not score.fatal


def test_code_that_does_not_parse_scores_zero_however_relevant() -> None:
    score = combine(
        [CheckResult("code", 0.0, "does not parse"), CheckResult("relevance", 1.0, "on topic")]
    )
    assert score.combined == 0.0


def test_a_check_that_did_not_run_is_not_counted_as_perfect() -> None:
    alone = combine([CheckResult("completeness", 0.5, "half")])
    assert alone.combined == 0.5


def test_a_fatal_part_makes_the_combined_score_zero() -> None:
    score = combine(
        [
            CheckResult("completeness", 1.0, "finished"),
            CheckResult("safety", 0.0, "refusal", fatal=True),
        ]
    )
    assert score.combined == 0.0
    assert score.fatal


def test_custom_weights_apply_and_unknown_names_weigh_one() -> None:
    parts = [CheckResult("relevance", 1.0, "x"), CheckResult("house_style", 0.0, "y")]
    assert combine(parts, weights={"relevance": 3.0}).combined == 0.75


def test_negative_weights_and_scores_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        combine([], weights={"code": -1.0})
    with pytest.raises(ValueError, match="between 0 and 1"):
        CheckResult("code", 1.5, "x")


def test_to_dict_is_json_ready_with_every_part_and_the_judge_cost() -> None:
    score = combine(
        [CheckResult("code", 1.0, "parses", {"language": "sql"})],
        judge_cost_usd=Decimal("0.000123"),
        skipped={"support": "no context"},
    )
    assert score.to_dict() == {
        "combined": 1.0,
        "fatal": False,
        "parts": {
            "code": {
                "name": "code",
                "score": 1.0,
                "reason": "parses",
                "details": {"language": "sql"},
                "fatal": False,
            }
        },
        "judge_cost_usd": "0.000123",
        "skipped": {"support": "no context"},
    }
    assert score.part("code") is not None
    assert score.part("support") is None
