"""Significance tests for A/B comparisons, from the sums the store keeps.

An A/B verdict must say how sure it is: a difference of means on 40 answers is noise as
often as not. Two tests, both from counts, sums and sums of squares (what
:class:`~llmopt.store.QualityRollup` holds), so no answer needs to be kept:

- :func:`welch_t_test`: mean scores of two arms with unequal variances (Welch, 1947),
  degrees of freedom by Welch–Satterthwaite, the two-sided p-value from Student's t;
- :func:`two_proportion_z_test`: pass rates, pooled proportion, normal approximation.

Student's t distribution is computed here (through the regularized incomplete beta
function, by Lentz's continued fraction) because it is the only function llmopt needs
from a statistics library, and SciPy is tens of megabytes for it; the results are
checked against published table values in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True, slots=True)
class TestResult:
    """One comparison of arm ``a`` with arm ``b``.

    ``difference`` is b's mean (or pass rate) minus a's; ``statistic`` the t or z value;
    ``p_value`` two-sided; ``degrees_of_freedom`` for Welch's test only.
    """

    __test__ = False  # not a pytest class, whatever its name

    test: str
    difference: float
    statistic: float
    p_value: float
    degrees_of_freedom: float | None = None


def welch_t_test(
    n_a: int, mean_a: float, var_a: float, n_b: int, mean_b: float, var_b: float
) -> TestResult:
    """Welch's t-test of two means from each arm's size, mean and sample variance.

    Raises ``ValueError`` when an arm has fewer than 2 answers or a negative variance.
    Two arms with no variance at all differ surely when their means differ (p = 0)
    and not at all when they are equal (p = 1).
    """
    if n_a < 2 or n_b < 2:
        raise ValueError("Welch's t-test needs at least 2 answers in each arm")
    if var_a < 0 or var_b < 0:
        raise ValueError("a variance cannot be negative")
    difference = mean_b - mean_a
    se_a, se_b = var_a / n_a, var_b / n_b
    spread = se_a + se_b
    if spread == 0.0:
        p = 1.0 if difference == 0.0 else 0.0
        return TestResult("welch_t", difference, math.copysign(math.inf, difference), p, None)
    t = difference / math.sqrt(spread)
    df = spread**2 / (
        (se_a**2 / (n_a - 1) if se_a else 0.0) + (se_b**2 / (n_b - 1) if se_b else 0.0)
    )
    return TestResult("welch_t", difference, t, student_t_two_sided(t, df), df)


def two_proportion_z_test(passed_a: int, n_a: int, passed_b: int, n_b: int) -> TestResult:
    """The two-proportion z-test of pass rates (pooled). Raises ``ValueError`` for an
    empty arm or a pass count outside 0..n."""
    if n_a < 1 or n_b < 1:
        raise ValueError("a pass-rate test needs at least 1 answer in each arm")
    if not (0 <= passed_a <= n_a and 0 <= passed_b <= n_b):
        raise ValueError("a pass count must be between 0 and the arm's size")
    rate_a, rate_b = passed_a / n_a, passed_b / n_b
    pooled = (passed_a + passed_b) / (n_a + n_b)
    spread = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    difference = rate_b - rate_a
    if spread == 0.0:
        # Both arms all passed or all failed: no difference to find.
        return TestResult("two_proportion_z", difference, 0.0, 1.0)
    z = difference / math.sqrt(spread)
    p = 2.0 * (1.0 - NormalDist().cdf(abs(z)))
    return TestResult("two_proportion_z", difference, z, min(1.0, max(0.0, p)))


def student_t_two_sided(t: float, df: float) -> float:
    """P(|T| ≥ |t|) for Student's t with ``df`` degrees of freedom (> 0)."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if math.isinf(t):
        return 0.0
    x = df / (df + t * t)
    return min(1.0, max(0.0, regularized_beta(x, df / 2.0, 0.5)))


def regularized_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for 0 ≤ x ≤ 1 and a, b > 0."""
    if not 0.0 <= x <= 1.0:
        raise ValueError("x must be between 0 and 1")
    if x in (0.0, 1.0):
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The continued fraction converges fast only below the mean; use the symmetry above.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(1.0 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method."""
    tiny, epsilon = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < epsilon:
            break
    return result
