"""``LLMRouter``: which entry serves a request, and why.

A decision runs in two steps, both in memory (no I/O: circuits and shared performance
are refreshed by background watchers):

1. **Eligible entries.** Every rule whose ``when`` matches applies: ``entries``
   restricts, ``exclude`` removes, ``maxCostUsd`` and ``latencyTargetMs`` take the
   strictest. An entry is left out, with the reason recorded, when a rule does not
   allow it, when the request is private (``privacy="local"``) and the entry is not
   local, when the request needs tools, images or structured output it does not take,
   when the request's estimated tokens plus its output do not fit its context window,
   when its circuit is open, when its estimated cost is above the ceiling (or unknown
   while a ceiling is set), or when the caller asks to avoid it (a budget).
2. **Ranking.** Each eligible entry scores
   ``w_fit·fit + w_rel·reliability + w_lat·speed + w_cost·cheapness``:

   - fit = quality × (1 if the entry lists the task, 0.6 if it lists no tasks, 0.3 if
     it lists others);
   - reliability = 1 − its smoothed recent error rate;
   - speed = fastest p95 among the eligible ÷ its p95 (1 while unknown), times
     target ÷ p95 when it misses a latency target;
   - cheapness = 1 − log10(its estimated cost ÷ the cheapest) / 3: 1 for the cheapest,
     0 at a thousand times it; a free entry counts as a tenth of the cheapest paid one;
     0.5 while its price is unknown.

   Weights (fit, reliability, speed, cheapness) by ``optimize``: balanced (3, 2, 1, 1),
   cost (1, 2, 1, 4), quality (5, 2, 1, 0.5), latency (1, 2, 4, 1). Entries a rule
   ``prefer``\\ s come first, in its order. Ties go to the earlier entry of the
   fallback chain (then of the document).

The ranked eligible entries are the failover chain of that request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from ._candidates import Candidate
from ._performance import Performance, PerformanceBook
from ._profile import RequestProfile, profile_request
from ._settings import Optimize, RoutingRule, RoutingSettings
from ._tasks import TaskKind

WEIGHTS: dict[Optimize, tuple[float, float, float, float]] = {
    "balanced": (3.0, 2.0, 1.0, 1.0),
    "cost": (1.0, 2.0, 1.0, 4.0),
    "quality": (5.0, 2.0, 1.0, 0.5),
    "latency": (1.0, 2.0, 4.0, 1.0),
}
_PREFERRED = 100.0
_FREE_FACTOR = 10.0
_DECADES = 3.0  # an entry 1,000 times the cheapest's cost scores 0 for cheapness

Availability = Callable[[str], str | None]
"""``entry_key -> None`` when it may be called, else why not (an open circuit)."""


def _always_available(_key: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class CandidateReport:
    """One entry in a decision: its score, or why it was left out."""

    entry: str
    score: float | None = None
    excluded: str | None = None
    estimated_cost_usd: float | None = None
    unavailable: bool = False
    """Left out only because its circuit refuses calls now (it could serve otherwise)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "score": None if self.score is None else round(self.score, 4),
            "excluded": self.excluded,
            "estimated_cost_usd": self.estimated_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The router's answer: ``entry_key`` (``None`` when nothing is eligible), the
    failover ``chain`` (ranked, ``entry_key`` first), a one-sentence ``reason``, and
    every candidate's score or exclusion."""

    entry_key: str | None
    chain: tuple[str, ...]
    reason: str
    profile: RequestProfile
    rules: tuple[str, ...] = ()
    candidates: tuple[CandidateReport, ...] = ()
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_metadata(self) -> dict[str, Any]:
        """What an answer's ``response_metadata["llmopt_route"]`` carries."""
        return {
            "entry": self.entry_key,
            "reason": self.reason,
            "task": self.profile.task.value,
            "task_source": self.profile.task_source,
            "estimated_tokens": self.profile.tokens,
            "rules": list(self.rules),
            "chain": list(self.chain),
            "candidates": [c.as_dict() for c in self.candidates],
        }


class LLMRouter:
    """Chooses an entry per request from rules, capabilities, health and performance.

    Build it with the document's candidates (:func:`candidates_of`) and
    :class:`RoutingSettings`; ``availability`` tells which circuits are open and
    ``performance`` holds what calls observed. The design documents' methods
    (``route_request``, ``get_best_model``, ``fallback_model``,
    ``track_model_performance``) answer from the same decision.
    """

    def __init__(
        self,
        candidates: Sequence[Candidate],
        settings: RoutingSettings,
        *,
        availability: Availability = _always_available,
        performance: PerformanceBook | None = None,
    ) -> None:
        self.settings = settings
        self.availability = availability
        self.performance = performance if performance is not None else PerformanceBook()
        chain = settings.fallback_chain
        if chain is None:
            self.candidates = tuple(candidates)
        else:
            by_key = {c.key: c for c in candidates}
            self.candidates = tuple(by_key[k] for k in chain if k in by_key)
        self._order = {c.key: i for i, c in enumerate(self.candidates)}

    def route(
        self,
        profile: RequestProfile,
        *,
        avoid: Collection[str] = (),
        avoid_reason: str = "avoided by the caller",
    ) -> RouteDecision:
        """The decision for a request with this profile; never raises."""
        rules = [r for r in self.settings.rules if _applies(r, profile)]
        allowed: set[str] | None = None
        for rule in rules:
            if rule.entries is not None:
                allowed = set(rule.entries) if allowed is None else allowed & set(rule.entries)
        excluded = {key: rule.name for rule in rules for key in rule.exclude}
        ceilings = [r.max_cost_usd for r in rules if r.max_cost_usd is not None]
        ceiling = min(ceilings) if ceilings else None
        targets = [r.latency_target_ms for r in rules if r.latency_target_ms is not None]
        rule_target = min(targets) if targets else None
        optimize = next((r.optimize for r in reversed(rules) if r.optimize), self.settings.optimize)
        prefer: list[str] = []
        for rule in rules:
            prefer.extend(k for k in rule.prefer if k not in prefer)

        reports: list[CandidateReport] = []
        eligible: list[tuple[Candidate, float | None, Performance]] = []
        for candidate in self.candidates:
            cost = candidate.estimated_cost(profile.tokens, profile.output_tokens)
            why = self._excluded(candidate, profile, allowed, excluded, avoid, avoid_reason)
            if why is None:
                why = self.availability(candidate.key)
                if why is not None:
                    report = CandidateReport(
                        candidate.key, excluded=why, estimated_cost_usd=cost, unavailable=True
                    )
                    reports.append(report)
                    continue
                why = _over_ceiling(ceiling, cost)
            if why is not None:
                reports.append(
                    CandidateReport(candidate.key, excluded=why, estimated_cost_usd=cost)
                )
                continue
            eligible.append((candidate, cost, self.performance.performance(candidate.key)))

        scored = self._scores(eligible, profile, rule_target, optimize, prefer)
        scored.sort(key=lambda item: (-item[1], self._order[item[0].key]))
        for candidate, score, cost in scored:
            reports.append(CandidateReport(candidate.key, score=score, estimated_cost_usd=cost))
        chain = tuple(candidate.key for candidate, _, _ in scored)
        names = tuple(rule.name for rule in rules)
        if not chain:
            reason = "no entry can serve this request: " + "; ".join(
                f"{r.entry} ({r.excluded})" for r in reports
            )
            return RouteDecision(None, (), reason, profile, names, tuple(reports))
        return RouteDecision(
            chain[0],
            chain,
            _reason(chain[0], profile, names, optimize, prefer, len(chain), len(self.candidates)),
            profile,
            names,
            tuple(sorted(reports, key=lambda r: (r.score is None, -(r.score or 0.0)))),
        )

    def _excluded(
        self,
        candidate: Candidate,
        profile: RequestProfile,
        allowed: set[str] | None,
        excluded: dict[str, str],
        avoid: Collection[str],
        avoid_reason: str,
    ) -> str | None:
        facts = candidate.facts
        if allowed is not None and candidate.key not in allowed:
            return "not among the entries its rules allow"
        if candidate.key in excluded:
            return f"excluded by rule {excluded[candidate.key]!r}"
        if profile.privacy == "local" and not facts.local:
            return "the request is private and this entry is not local"
        if profile.tools and not facts.tools:
            return "the request uses tools and this model takes none"
        if profile.vision and not facts.vision:
            return "the request has images and this model takes none"
        if profile.structured_output and not facts.structured_output:
            return "the request asks for structured output this model cannot give"
        needed = profile.tokens + profile.output_tokens
        if facts.context_window is not None and needed > facts.context_window:
            return f"needs about {needed:,} tokens; its window is {facts.context_window:,}"
        if candidate.key in avoid:
            return avoid_reason
        return None

    def _scores(
        self,
        eligible: list[tuple[Candidate, float | None, Performance]],
        profile: RequestProfile,
        rule_target: float | None,
        optimize: Optimize,
        prefer: list[str],
    ) -> list[tuple[Candidate, float, float | None]]:
        w_fit, w_rel, w_lat, w_cost = WEIGHTS[optimize]
        known_p95 = [p.p95_ms for _, _, p in eligible if p.p95_ms]
        fastest = min(known_p95) if known_p95 else None
        paid = [c for _, c, _ in eligible if c is not None and c > 0]
        # A free entry counts as ten times cheaper than the cheapest paid one, not as
        # infinitely cheaper: price is one reason among four.
        free = min(paid) / _FREE_FACTOR if paid else 1.0
        priced = [c or free for _, c, _ in eligible if c is not None]
        cheapest = min(priced) if priced else free
        scored = []
        for candidate, cost, perf in eligible:
            tasks = candidate.routing.tasks
            match = 1.0 if profile.task in tasks else (0.6 if not tasks else 0.3)
            fit = candidate.routing.quality * match
            reliability = 1.0 - perf.error_rate
            speed = 1.0
            if perf.p95_ms and fastest:
                speed = fastest / perf.p95_ms
                target = rule_target or candidate.routing.latency_target_ms
                if target is not None and perf.p95_ms > target:
                    speed *= target / perf.p95_ms
            if cost is None:
                cheapness = 0.5
            else:
                ratio = (cost or free) / cheapest
                cheapness = max(0.0, 1.0 - math.log10(ratio) / _DECADES)
            score = w_fit * fit + w_rel * reliability + w_lat * speed + w_cost * cheapness
            if candidate.key in prefer:
                score += _PREFERRED - prefer.index(candidate.key)
            scored.append((candidate, score, cost))
        return scored

    # The design documents' names.

    def route_request(self, prompt: Any, context: dict[str, Any] | None = None) -> RouteDecision:
        """The decision for ``prompt`` (text or LangChain messages); ``context`` may hold
        ``task``, ``privacy``, ``tools`` (bool), ``structured_output`` (bool),
        ``max_tokens``."""
        context = dict(context or {})
        messages: list[BaseMessage] = (
            [HumanMessage(prompt)] if isinstance(prompt, str) else list(prompt)
        )
        kwargs: dict[str, Any] = {}
        if context.get("tools"):
            kwargs["tools"] = True
        if context.get("structured_output"):
            kwargs["ls_structured_output_format"] = True
        if context.get("max_tokens"):
            kwargs["max_tokens"] = context["max_tokens"]
        profile = profile_request(
            messages,
            kwargs,
            task=context.get("task"),
            privacy=context.get("privacy"),
            expected_output_tokens=self.settings.expected_output_tokens,
        )
        return self.route(profile)

    def get_best_model(self, capability_needed: str) -> str | None:
        """The best entry for a task kind (``code``...), ``tools``, ``vision``,
        ``structured_output`` or ``local``; ``None`` when none can serve it."""
        task = capability_needed if capability_needed in set(TaskKind) else None
        profile = RequestProfile(
            tokens=0,
            output_tokens=self.settings.expected_output_tokens,
            task=TaskKind(task) if task else TaskKind.CHAT,
            task_source="caller",
            tools=capability_needed == "tools",
            vision=capability_needed == "vision",
            structured_output=capability_needed == "structured_output",
            privacy="local" if capability_needed == "local" else None,
        )
        return self.route(profile).entry_key

    def fallback_model(self, after: str | None = None) -> str | None:
        """The first available entry of the fallback chain (after ``after``, if given)."""
        keys = [c.key for c in self.candidates]
        start = keys.index(after) + 1 if after in keys else 0
        return next((k for k in keys[start:] if self.availability(k) is None), None)

    def track_model_performance(self) -> dict[str, dict[str, float | int | None]]:
        """Observed performance per entry: calls, errors, error rate, p50/p95, cost."""
        return {c.key: self.performance.performance(c.key).as_dict() for c in self.candidates}

    def record(
        self, entry_key: str, *, latency_ms: float | None, ok: bool, cost_usd: float | None
    ) -> None:
        """One finished call, for ranking the next ones."""
        self.performance.record(entry_key, latency_ms=latency_ms, ok=ok, cost_usd=cost_usd)


def _over_ceiling(ceiling: float | None, cost: float | None) -> str | None:
    if ceiling is None:
        return None
    if cost is None:
        return f"its price is unknown and a rule caps the cost at ${ceiling:g}"
    if cost > ceiling:
        return f"estimated ${cost:.6f}, above the ${ceiling:g} ceiling"
    return None


def _applies(rule: RoutingRule, profile: RequestProfile) -> bool:
    when = rule.when
    if when.task is not None and profile.task not in when.task:
        return False
    if when.privacy is not None and profile.privacy != when.privacy:
        return False
    if when.min_tokens is not None and profile.tokens < when.min_tokens:
        return False
    return not (when.max_tokens is not None and profile.tokens > when.max_tokens)


def _reason(
    key: str,
    profile: RequestProfile,
    rules: tuple[str, ...],
    optimize: Optimize,
    prefer: list[str],
    eligible: int,
    total: int,
) -> str:
    parts = [f"{key}: {profile.task.value} task ({profile.task_source})"]
    if profile.needs:
        parts.append("needs " + ", ".join(profile.needs))
    if profile.privacy:
        parts.append(f"privacy {profile.privacy}")
    if rules:
        parts.append("rules " + ", ".join(repr(r) for r in rules))
    if key in prefer:
        parts.append("preferred by rule")
    else:
        parts.append(f"best {optimize} score")
    parts.append(f"{eligible} of {total} entries eligible")
    return "; ".join(parts)
