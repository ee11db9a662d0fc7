"""What the recorded scores say: rolling means, degradation, A/B verdicts, arm drawing.

Pure functions over :class:`~llmopt.store.QualityRollup`\\s (the store's per-minute sums),
so the tracker, the console and a notebook all read the same numbers the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llmopt.store import QualityRollup

from ._settings import ABTest, DegradationSettings
from ._stats import TestResult, two_proportion_z_test, welch_t_test

SIGNIFICANCE = 0.05
"""The p-value below which an A/B difference is called significant."""


@dataclass(frozen=True, slots=True)
class QualitySummary:
    """The scores of some answers, summed up."""

    count: int
    mean: float | None
    variance: float | None
    passed: int
    fatal: int
    check_means: dict[str, float]
    flags: dict[str, int]

    @classmethod
    def of(cls, rollups: Iterable[QualityRollup]) -> QualitySummary:
        """The summary of any roll-ups (of any minutes, entries and models)."""
        total = _fold(rollups)
        if total is None:
            return cls(0, None, None, 0, 0, {}, {})
        return cls(
            total.count,
            total.mean,
            total.variance,
            total.passed,
            total.fatal,
            dict(total.check_means),
            dict(total.flags),
        )

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.count if self.count else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": self.mean,
            "passRate": self.pass_rate,
            "fatal": self.fatal,
            "checks": self.check_means,
            "flags": self.flags,
        }


def _fold(rollups: Iterable[QualityRollup]) -> QualityRollup | None:
    rows = list(rollups)
    if not rows:
        return None
    first = rows[0]
    return QualityRollup.fold(
        rows, minute=first.minute, entry_key=first.entry_key, model=first.model, test=first.test
    )


@dataclass(frozen=True, slots=True)
class Degradation:
    """The comparison of an entry's recent window with its baseline."""

    entry_key: str
    window_start: datetime
    window: QualitySummary
    baseline: QualitySummary
    drop: float
    degraded: bool
    reason: str


def judge_degradation(
    entry_key: str,
    window: Sequence[QualityRollup],
    baseline: Sequence[QualityRollup],
    settings: DegradationSettings,
    *,
    window_start: datetime,
) -> Degradation:
    """Whether ``window``'s mean score fell ``settings.drop`` or more below
    ``baseline``'s, both having ``settings.min_samples`` answers at least."""
    recent, before = QualitySummary.of(window), QualitySummary.of(baseline)
    need = settings.min_samples
    if recent.count < need or before.count < need or recent.mean is None or before.mean is None:
        reason = (
            f"not enough answers to judge: {recent.count} in the window and "
            f"{before.count} in the baseline, {need} needed in each"
        )
        return Degradation(entry_key, window_start, recent, before, settings.drop, False, reason)
    fall = before.mean - recent.mean
    degraded = fall >= settings.drop - 1e-12
    reason = (
        f"mean score {recent.mean:.3f} over the last {settings.window_minutes} min "
        f"({recent.count} answers) against {before.mean:.3f} over the "
        f"{settings.baseline_hours} h before ({before.count} answers): "
        + (
            f"down {fall:.3f}, at least the {settings.drop:g} that alerts"
            if degraded
            else f"a change of {-fall:+.3f}, within the {settings.drop:g} allowed"
        )
    )
    return Degradation(entry_key, window_start, recent, before, settings.drop, degraded, reason)


@dataclass(frozen=True, slots=True)
class ABResult:
    """Where an A/B test stands: each arm's summary and, with enough answers, the test."""

    test: ABTest
    arms: tuple[QualitySummary, QualitySummary]
    result: TestResult | None
    verdict: str

    @property
    def significant(self) -> bool:
        return self.result is not None and self.result.p_value < SIGNIFICANCE

    @property
    def winner(self) -> str | None:
        """The better entry when the difference is significant, else ``None``."""
        if not self.significant or self.result is None:
            return None
        return self.test.entries[1] if self.result.difference > 0 else self.test.entries[0]

    def to_dict(self) -> dict[str, Any]:
        result = self.result
        return {
            "name": self.test.name,
            "entries": list(self.test.entries),
            "metric": self.test.metric,
            "share": self.test.share,
            "minSamples": self.test.min_samples,
            "arms": [arm.to_dict() for arm in self.arms],
            "test": None
            if result is None
            else {
                "name": result.test,
                "difference": result.difference,
                "statistic": result.statistic,
                "pValue": result.p_value,
                "degreesOfFreedom": result.degrees_of_freedom,
            },
            "significant": self.significant,
            "winner": self.winner,
            "verdict": self.verdict,
        }


def compare_arms(test: ABTest, rollups: Iterable[QualityRollup]) -> ABResult:
    """The A/B result of ``test`` from the roll-ups recorded under its name."""
    rows = [row for row in rollups if row.test == test.name]
    a_key, b_key = test.entries
    a = QualitySummary.of(row for row in rows if row.entry_key == a_key)
    b = QualitySummary.of(row for row in rows if row.entry_key == b_key)
    need = test.min_samples
    if a.count < need or b.count < need:
        verdict = (
            f"collecting answers: {a_key} {a.count} and {b_key} {b.count} of the {need} each needs"
        )
        return ABResult(test, (a, b), None, verdict)
    if test.metric == "pass":
        result = two_proportion_z_test(a.passed, a.count, b.passed, b.count)
        what = "pass rate"
    else:
        assert a.mean is not None and b.mean is not None
        result = welch_t_test(
            a.count, a.mean, a.variance or 0.0, b.count, b.mean, b.variance or 0.0
        )
        what = "mean score"
    if result.p_value < SIGNIFICANCE:
        better, worse = (b_key, a_key) if result.difference > 0 else (a_key, b_key)
        verdict = (
            f"{better} has the higher {what} by {abs(result.difference):.3f} "
            f"(p = {result.p_value:.3g}, significant at {SIGNIFICANCE:g}); {worse} is worse"
        )
    else:
        verdict = (
            f"no significant difference in {what} ({result.difference:+.3f}, "
            f"p = {result.p_value:.3g})"
        )
    return ABResult(test, (a, b), result, verdict)


def draw_arm(tests: Sequence[ABTest], request_key: str) -> tuple[ABTest, str] | None:
    """The test and entry that a request with ``request_key`` is sent to, if any.

    The draw is a hash of the key, so the same request (or the same user, when the key
    is theirs) always lands in the same arm; the enabled tests take consecutive slices
    of ``[0, 1)`` as wide as their shares, each split evenly between its two entries.
    """
    digest = hashlib.sha256(request_key.encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    start = 0.0
    for test in tests:
        if not test.enabled:
            continue
        end = start + test.share
        if point < end:
            half = start + test.share / 2
            return test, test.entries[0] if point < half else test.entries[1]
        start = end
    return None
