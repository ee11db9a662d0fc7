"""One task, one strategy: what ``orchestrate_task`` and an orchestrated entry run.

Every strategy ends the same way, so a caller (or a chat model standing for an entry)
can use any of them alike: one answer or none, whether it was accepted, every call it
took, and the strategy's own record.

============ ================================================================================
strategy     answer, and when it counts as accepted
============ ================================================================================
single       the first entry's answer; accepted when it answered
cascade      the first answer scoring at least the threshold (accepted), else the best one
parallel     the best-scoring answer of all (:func:`rank_results`); accepted when any answered
consensus    the answer they agree on by the method; without agreement the best-scoring
             answer, not accepted
============ ================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmopt.orchestration._records import (
    CallRecord,
    CascadeResult,
    ConsensusResult,
    ParallelResult,
    total_cost,
)
from llmopt.orchestration._settings import OrchestrationSettings

if TYPE_CHECKING:
    from llmopt.orchestration._orchestrator import Messages, MultiLLMOrchestrator
    from llmopt.orchestration._scoring import Scorer

Detail = ParallelResult | ConsensusResult | CascadeResult


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What one strategy run gave: see the module docstring."""

    strategy: str
    answer: CallRecord | None
    accepted: bool
    reason: str
    detail: Detail

    @property
    def calls(self) -> tuple[CallRecord, ...]:
        """Every call the strategy made, the judge's too."""
        return self.detail.calls

    @property
    def text(self) -> str:
        return self.answer.text if self.answer is not None else ""

    @property
    def total_cost(self) -> Decimal:
        """What every call cost together (unpriced calls count 0; see ``unpriced``)."""
        return total_cost(self.calls)

    @property
    def wall_seconds(self) -> float:
        return self.detail.wall_seconds

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: the strategy's record, the winner and why."""
        return {
            **self.detail.to_dict(),
            "strategy": self.strategy,
            "winner": self.answer.entry if self.answer is not None else None,
            "accepted": self.accepted,
            "reason": self.reason,
        }


def settings_from(
    strategy: str | OrchestrationSettings, entries: Sequence[str], options: dict[str, Any]
) -> OrchestrationSettings:
    """``strategy`` as checked settings: a name with its ``options`` (camelCase or not),
    or settings as they are."""
    if isinstance(strategy, OrchestrationSettings):
        if options:
            raise TypeError("pass options inside the OrchestrationSettings, not beside them")
        return strategy
    raw: dict[str, Any] = {"strategy": strategy}
    if strategy != "single":
        raw["entries"] = list(entries)
    aliases = {"timeout_seconds": "timeoutSeconds"}
    raw.update({aliases.get(name, name): value for name, value in options.items()})
    return OrchestrationSettings.from_dict(raw)


def run(
    orchestrator: MultiLLMOrchestrator,
    settings: OrchestrationSettings,
    messages: Messages,
    *,
    scorer: Scorer | None,
    entries: Sequence[str],
) -> TaskResult:
    """Run ``settings``' strategy over ``entries`` (see the module docstring)."""
    timeout = settings.timeout_seconds
    if settings.strategy == "cascade":
        cascade = orchestrator.cascade_execution(
            messages, entries, threshold=settings.threshold, scorer=scorer, timeout_seconds=timeout
        )
        return _cascaded(cascade)
    chosen = entries[:1] if settings.strategy == "single" else entries
    parallel = orchestrator.parallel_llm_call(messages, chosen, timeout_seconds=timeout)
    if settings.strategy == "consensus":
        consensus = orchestrator.consensus_resolution(
            parallel,
            settings.method,
            judge=settings.judge,
            request=messages,
            timeout_seconds=timeout,
        )
        return _agreed(orchestrator, consensus, parallel, messages, scorer)
    return _ranked(orchestrator, settings.strategy, parallel, messages, scorer)


async def arun(
    orchestrator: MultiLLMOrchestrator,
    settings: OrchestrationSettings,
    messages: Messages,
    *,
    scorer: Scorer | None,
    entries: Sequence[str],
) -> TaskResult:
    """:func:`run` on the running event loop."""
    timeout = settings.timeout_seconds
    if settings.strategy == "cascade":
        cascade = await orchestrator.acascade_execution(
            messages, entries, threshold=settings.threshold, scorer=scorer, timeout_seconds=timeout
        )
        return _cascaded(cascade)
    chosen = entries[:1] if settings.strategy == "single" else entries
    parallel = await orchestrator.aparallel_llm_call(messages, chosen, timeout_seconds=timeout)
    if settings.strategy == "consensus":
        consensus = await orchestrator.aconsensus_resolution(
            parallel,
            settings.method,
            judge=settings.judge,
            request=messages,
            timeout_seconds=timeout,
        )
        return _agreed(orchestrator, consensus, parallel, messages, scorer)
    return _ranked(orchestrator, settings.strategy, parallel, messages, scorer)


def _cascaded(cascade: CascadeResult) -> TaskResult:
    if cascade.answer is None:
        reason = "no entry answered"
    elif cascade.accepted:
        reason = (
            f"{cascade.answer.entry} scored {cascade.answer.score:.2f}, at least the "
            f"threshold {cascade.threshold:g}, after {len(cascade.calls)} call(s)"
        )
    else:
        reason = (
            f"no answer reached the threshold {cascade.threshold:g}; the best scored "
            f"{cascade.answer.score or 0:.2f} ({cascade.answer.entry})"
        )
    return TaskResult("cascade", cascade.answer, cascade.accepted, reason, cascade)


def _ranked(
    orchestrator: MultiLLMOrchestrator,
    strategy: str,
    parallel: ParallelResult,
    messages: Messages,
    scorer: Scorer | None,
) -> TaskResult:
    ranked = orchestrator.rank_results(parallel, scorer=scorer, request=messages)
    if not ranked:
        return TaskResult(strategy, None, False, "no entry answered", parallel)
    best = ranked[0]
    reason = f"{best.entry} ranked first of {len(ranked)} answer(s), score {best.score or 0:.2f}"
    return TaskResult(strategy, best, True, reason, parallel)


def _agreed(
    orchestrator: MultiLLMOrchestrator,
    consensus: ConsensusResult,
    parallel: ParallelResult,
    messages: Messages,
    scorer: Scorer | None,
) -> TaskResult:
    if consensus.answer is not None:
        return TaskResult("consensus", consensus.answer, True, consensus.reason, consensus)
    ranked = orchestrator.rank_results(parallel, scorer=scorer, request=messages)
    best = ranked[0] if ranked else None
    reason = consensus.reason + (
        f"; the best-scoring answer ({best.entry}) is offered, not accepted" if best else ""
    )
    return TaskResult("consensus", best, False, reason, consensus)
