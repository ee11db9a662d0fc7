from __future__ import annotations

import math
import statistics
from statistics import NormalDist

import pytest

from llmopt.quality import two_proportion_z_test, welch_t_test
from llmopt.quality._stats import regularized_beta, student_t_two_sided

# Student's t: two-sided critical values from the published tables.


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        (12.706, 1, 0.05),
        (63.657, 1, 0.01),
        (4.303, 2, 0.05),
        (2.776, 4, 0.05),
        (2.571, 5, 0.05),
        (2.228, 10, 0.05),
        (3.169, 10, 0.01),
        (1.812, 10, 0.10),
        (4.587, 10, 0.001),
        (2.086, 20, 0.05),
        (2.042, 30, 0.05),
        (2.750, 30, 0.01),
        (1.984, 100, 0.05),
    ],
)
def test_student_t_matches_the_published_table(t: float, df: int, p: float) -> None:
    # Table values are rounded to three decimals, so the p-value is good to ~1%.
    assert student_t_two_sided(t, df) == pytest.approx(p, rel=0.01)
    assert student_t_two_sided(-t, df) == student_t_two_sided(t, df)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0, 2.0, 5.0, 30.0])
def test_student_t_matches_the_closed_forms_for_one_and_two_degrees_of_freedom(t: float) -> None:
    # df = 1 is the Cauchy distribution; df = 2 has a closed form too.
    assert student_t_two_sided(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), abs=1e-12)
    assert student_t_two_sided(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), abs=1e-12)


@pytest.mark.parametrize("t", [0.5, 1.0, 1.959964, 2.575829, 3.5])
def test_student_t_approaches_the_normal_as_degrees_of_freedom_grow(t: float) -> None:
    normal = 2 * (1 - NormalDist().cdf(t))
    assert student_t_two_sided(t, 1e7) == pytest.approx(normal, rel=1e-4)
    assert student_t_two_sided(t, 30) > student_t_two_sided(t, 1e7)  # heavier tails


def _t_density(x: float, df: float) -> float:
    front = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(front) * math.pow(1 + x * x / df, -(df + 1) / 2)


@pytest.mark.parametrize(("t", "df"), [(2.2255, 24.52), (0.8, 3.3), (4.0, 7), (1.3, 150)])
def test_student_t_matches_the_integrated_density(t: float, df: float) -> None:
    # An independent oracle: Simpson's rule over the density from 0 to t.
    steps = 4000
    h = t / steps
    inner = sum((4 if i % 2 else 2) * _t_density(i * h, df) for i in range(1, steps))
    area = (_t_density(0, df) + inner + _t_density(t, df)) * h / 3
    assert student_t_two_sided(t, df) == pytest.approx(1 - 2 * area, abs=1e-10)


def test_student_t_at_zero_and_infinity() -> None:
    assert student_t_two_sided(0.0, 7) == pytest.approx(1.0)
    assert student_t_two_sided(math.inf, 7) == 0.0
    assert student_t_two_sided(-math.inf, 7) == 0.0


@pytest.mark.parametrize("df", [0, -1])
def test_student_t_refuses_degrees_of_freedom_that_are_not_positive(df: float) -> None:
    with pytest.raises(ValueError, match="degrees of freedom"):
        student_t_two_sided(2.0, df)


@pytest.mark.parametrize(("x", "a", "b"), [(0.3, 1, 1), (0.7, 1, 1), (0.2, 2.5, 1), (0.9, 4, 1)])
def test_regularized_beta_matches_its_closed_forms(x: float, a: float, b: float) -> None:
    assert regularized_beta(x, a, b) == pytest.approx(x**a, abs=1e-12)
    assert regularized_beta(x, 1, a) == pytest.approx(1 - (1 - x) ** a, abs=1e-12)


@pytest.mark.parametrize("a", [0.5, 3, 40])
def test_regularized_beta_is_one_half_at_the_middle_of_a_symmetric_beta(a: float) -> None:
    assert regularized_beta(0.5, a, a) == pytest.approx(0.5, abs=1e-12)


def test_regularized_beta_at_its_ends_and_outside() -> None:
    assert regularized_beta(0.0, 2, 3) == 0.0
    assert regularized_beta(1.0, 2, 3) == 1.0
    for x in (-0.1, 1.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            regularized_beta(x, 2, 3)


# Welch's t-test, on the worked examples of Welch's t-test (Wikipedia, after Ruxton 2006).

EXAMPLES = [
    (
        [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4],
        [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4],
        2.46,
        0.021,
    ),
    (
        [17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8],
        [21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8]
        + [20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5, 21.8],
        1.57,
        0.149,
    ),
    (
        [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0],
        [28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7]
        + [23.2, 17.5, 20.6, 18.0, 23.9, 21.6, 24.3, 20.4, 23.9, 13.3],
        2.22,
        0.036,
    ),
]


@pytest.mark.parametrize(("a", "b", "t", "p"), EXAMPLES)
def test_welch_matches_the_worked_examples(
    a: list[float], b: list[float], t: float, p: float
) -> None:
    var_a, var_b = statistics.variance(a), statistics.variance(b)
    se_a, se_b = var_a / len(a), var_b / len(b)
    # Welch–Satterthwaite, written out here from the raw samples.
    df = (se_a + se_b) ** 2 / (se_a**2 / (len(a) - 1) + se_b**2 / (len(b) - 1))
    result = welch_t_test(len(a), statistics.mean(a), var_a, len(b), statistics.mean(b), var_b)
    assert result.test == "welch_t"
    assert result.difference == pytest.approx(statistics.mean(b) - statistics.mean(a))
    # The published t and p are rounded (t to 2 decimals, p to 2 significant digits).
    assert result.statistic == pytest.approx(t, abs=0.01)
    assert result.degrees_of_freedom == pytest.approx(df, rel=1e-9)
    assert result.p_value == pytest.approx(p, abs=0.001)


def test_welch_is_symmetric_in_its_arms() -> None:
    a, b, _, _ = EXAMPLES[0]
    forward = welch_t_test(len(a), statistics.mean(a), statistics.variance(a), len(b),
                           statistics.mean(b), statistics.variance(b))  # fmt: skip
    backward = welch_t_test(len(b), statistics.mean(b), statistics.variance(b), len(a),
                            statistics.mean(a), statistics.variance(a))  # fmt: skip
    assert backward.statistic == pytest.approx(-forward.statistic)
    assert backward.p_value == pytest.approx(forward.p_value)


def test_equal_means_give_a_p_value_of_one() -> None:
    result = welch_t_test(40, 0.8, 0.01, 60, 0.8, 0.04)
    assert result.statistic == 0.0 and result.difference == 0.0
    assert result.p_value == pytest.approx(1.0)


def test_a_larger_sample_makes_the_same_difference_more_significant() -> None:
    small = welch_t_test(10, 0.70, 0.04, 10, 0.75, 0.04)
    large = welch_t_test(1000, 0.70, 0.04, 1000, 0.75, 0.04)
    assert small.p_value > 0.5 > 0.001 > large.p_value


def test_two_arms_without_variance_differ_surely_or_not_at_all() -> None:
    differ = welch_t_test(5, 0.5, 0.0, 5, 0.9, 0.0)
    assert differ.p_value == 0.0 and differ.statistic == math.inf
    assert differ.degrees_of_freedom is None
    lower = welch_t_test(5, 0.9, 0.0, 5, 0.5, 0.0)
    assert lower.p_value == 0.0 and lower.statistic == -math.inf
    same = welch_t_test(5, 0.7, 0.0, 8, 0.7, 0.0)
    assert same.p_value == 1.0


def test_one_arm_without_variance_takes_its_degrees_of_freedom_from_the_other() -> None:
    result = welch_t_test(30, 1.0, 0.0, 12, 0.8, 0.09)
    assert result.degrees_of_freedom == pytest.approx(11)
    # t = -0.2 / sqrt(0.09 / 12), by hand.
    assert result.statistic == pytest.approx(-0.2 / math.sqrt(0.0075))
    assert 0.02 < result.p_value < 0.05  # |t| = 2.309, between 2.201 (0.05) and 2.718 (0.02)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((1, 0.5, 0.1, 10, 0.5, 0.1), "at least 2 answers"),
        ((10, 0.5, 0.1, 0, 0.5, 0.1), "at least 2 answers"),
        ((10, 0.5, -0.1, 10, 0.5, 0.1), "cannot be negative"),
        ((10, 0.5, 0.1, 10, 0.5, -1e-9), "cannot be negative"),
    ],
)
def test_welch_refuses_bad_arms(args: tuple[float, ...], words: str) -> None:
    n_a, mean_a, var_a, n_b, mean_b, var_b = args
    with pytest.raises(ValueError, match=words):
        welch_t_test(int(n_a), mean_a, var_a, int(n_b), mean_b, var_b)


# The two-proportion z-test.


def test_the_z_test_matches_a_hand_computed_example() -> None:
    # 45 of 100 against 60 of 100: pooled 105/200 = 0.525,
    # se = sqrt(0.525 * 0.475 * (1/100 + 1/100)) = 0.0706222, z = 0.15 / se = 2.12398,
    # two-sided p = 2 * (1 - Phi(2.12398)) = 0.03367.
    result = two_proportion_z_test(45, 100, 60, 100)
    assert result.test == "two_proportion_z"
    assert result.difference == pytest.approx(0.15)
    assert result.statistic == pytest.approx(2.12398, abs=1e-5)
    assert result.p_value == pytest.approx(0.03367, abs=1e-5)
    assert result.degrees_of_freedom is None
    reverse = two_proportion_z_test(60, 100, 45, 100)
    assert reverse.statistic == pytest.approx(-2.12398, abs=1e-5)
    assert reverse.p_value == pytest.approx(result.p_value)


def test_equal_pass_rates_are_no_difference() -> None:
    result = two_proportion_z_test(30, 100, 60, 200)
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)


@pytest.mark.parametrize(("passed_a", "passed_b"), [(0, 0), (10, 20)])
def test_arms_that_all_failed_or_all_passed_differ_not_at_all(passed_a: int, passed_b: int) -> None:
    result = two_proportion_z_test(passed_a, 10, passed_b, 20)
    assert (result.statistic, result.p_value) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((0, 0, 1, 5), "at least 1 answer"),
        ((1, 5, 0, 0), "at least 1 answer"),
        ((6, 5, 1, 5), "between 0 and the arm's size"),
        ((1, 5, -1, 5), "between 0 and the arm's size"),
    ],
)
def test_the_z_test_refuses_bad_counts(args: tuple[int, int, int, int], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        two_proportion_z_test(*args)


# SciPy, when it happens to be installed (llmopt does not depend on it).


def test_student_t_and_welch_agree_with_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in (1, 2.5, 7, 24.9, 300):
        for t in (0.3, 1.7, 2.9, 6.0):
            assert student_t_two_sided(t, df) == pytest.approx(
                2 * scipy_stats.t.sf(t, df), rel=1e-9, abs=1e-14
            )
    for a, b, _, _ in EXAMPLES:
        expected = scipy_stats.ttest_ind(b, a, equal_var=False)
        result = welch_t_test(len(a), statistics.mean(a), statistics.variance(a), len(b),
                              statistics.mean(b), statistics.variance(b))  # fmt: skip
        assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
        assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
