"""One check's verdict and the combined quality score of an answer.

A cascade escalates to a stronger model when an answer scores below a threshold, so the
score must be one number with its reasons kept beside it. Each check gives a
:class:`CheckResult` (0 = bad, 1 = good, with a sentence saying why); :func:`combine`
averages the checks that applied, by :data:`DEFAULT_WEIGHTS`. A check that does not
apply (no code asked for, no retrieved context given) is left out of the average, never
counted as a perfect 1. The checks against something certain (code, completeness,
support: :data:`CAPPING`) also cap the combined score at their own. A *fatal* result (a
refusal, a leaked secret) makes the combined score 0 whatever the other checks say: such
an answer must never be accepted.

==============  ======  ===============================================================
check           weight  why this weight
==============  ======  ===============================================================
code            3       code that does not parse is useless, however well it reads
completeness    2       a truncated answer or a skipped question must be asked again
support         2       a claim the retrieved context does not back is a hallucination
relevance       1       similarity is a soft signal: short right answers score lower
safety          1       refusals and leaks are fatal anyway; the weight only counts
                        softer flags such as an "As an AI" disclaimer
judge           2       an LLM's 0-10 opinion (opt-in, costs a call)
==============  ======  ===============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "code": 3.0,
        "completeness": 2.0,
        "support": 2.0,
        "relevance": 1.0,
        "safety": 1.0,
        "judge": 2.0,
    }
)

CAPPING = frozenset({"code", "completeness", "support"})
"""Checks against something certain (the language or schema asked for, the token limit
and the questions asked, the retrieved context): an answer can be no better than they
say, whatever the softer checks find. Code that does not parse scores 0 however relevant
it reads, so a cascade escalates it at any threshold."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of one check on one answer.

    ``score`` is in 0..1 (1 = good); ``reason`` is a sentence a person can read;
    ``details`` holds what the check found (unsupported sentences, flags, errors), as
    JSON-ready values, never a secret the answer leaked. ``fatal`` means the answer
    must be rejected whatever the other checks say.
    """

    name: str
    score: float
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)
    fatal: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"a check's score is between 0 and 1, not {self.score}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this result."""
        return {
            "name": self.name,
            "score": self.score,
            "reason": self.reason,
            "details": dict(self.details),
            "fatal": self.fatal,
        }


@dataclass(frozen=True, slots=True)
class QualityScore:
    """The combined score of one answer and the checks it was made of.

    Use :attr:`combined` to decide (accept, escalate, alert) and :attr:`parts` to say
    why. ``judge_cost_usd`` is what the opt-in LLM judge's call cost (``None`` when no
    judge ran or its price is unknown). ``skipped`` names the checks that did not apply
    and why (left out of the average).
    """

    combined: float
    parts: tuple[CheckResult, ...]
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    judge_cost_usd: Decimal | None = None
    skipped: Mapping[str, str] = field(default_factory=dict)

    def part(self, name: str) -> CheckResult | None:
        """The result of the check called ``name``, or ``None`` when it did not run."""
        return next((p for p in self.parts if p.name == name), None)

    @property
    def fatal(self) -> bool:
        """True when a check rejected the answer outright (refusal, leaked secret)."""
        return any(p.fatal for p in self.parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the combined score, each part, the judge's cost as a string."""
        return {
            "combined": self.combined,
            "fatal": self.fatal,
            "parts": {p.name: p.to_dict() for p in self.parts},
            "judge_cost_usd": None if self.judge_cost_usd is None else str(self.judge_cost_usd),
            "skipped": dict(self.skipped),
        }


def combine(
    parts: tuple[CheckResult, ...] | list[CheckResult],
    *,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    judge_cost_usd: Decimal | None = None,
    skipped: Mapping[str, str] | None = None,
) -> QualityScore:
    """The weighted average of the checks that ran, at most the score of any
    :data:`CAPPING` check (0 when one is fatal).

    A check whose name has no weight counts with weight 1; no parts at all give 1.0
    (nothing was found wrong). Raises ``ValueError`` on a negative weight.
    """
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights cannot be negative")
    parts = tuple(parts)
    if any(p.fatal for p in parts):
        combined = 0.0
    else:
        total = sum(weights.get(p.name, 1.0) for p in parts)
        if total == 0:
            combined = 1.0
        else:
            combined = sum(weights.get(p.name, 1.0) * p.score for p in parts) / total
        caps = [p.score for p in parts if p.name in CAPPING]
        combined = min([combined, *caps])
    return QualityScore(
        combined=round(combined, 4),
        parts=parts,
        weights=MappingProxyType(dict(weights)),
        judge_cost_usd=judge_cost_usd,
        skipped=MappingProxyType(dict(skipped or {})),
    )
