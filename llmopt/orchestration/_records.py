"""What every orchestration run records: each call's entry, latency, cost, tokens, score
and error, and the strategy's totals.

A strategy's value is a trade of money and time against quality, so every run returns
the figures needed to judge that trade, the same way whatever the strategy; ``to_dict``
gives them as plain JSON values for logs and the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call to one entry: its answer or its error, and what it cost.

    ``cost`` is ``None`` when the call failed or llmopt does not know the model's price
    (never a guessed zero). ``timed_out`` calls were abandoned after the strategy's
    timeout; ``error`` names the exception otherwise. ``score`` is set by strategies
    that score answers (cascade, ranking) and ``role`` says why the call was made
    (``"answer"``, or ``"judge"`` for a consensus judge).
    """

    entry: str
    latency_seconds: float
    answer: AIMessage | None = None
    error: str | None = None
    timed_out: bool = False
    cost: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    score: float | None = None
    role: str = "answer"

    @property
    def ok(self) -> bool:
        """True when the entry answered (whatever the answer's quality)."""
        return self.answer is not None

    @property
    def text(self) -> str:
        """The answer's text (empty when there is none)."""
        return self.answer.text if self.answer is not None else ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values; the cost as a decimal string."""
        return {
            "entry": self.entry,
            "role": self.role,
            "ok": self.ok,
            "text": self.text if self.ok else None,
            "error": self.error,
            "timedOut": self.timed_out,
            "latencySeconds": self.latency_seconds,
            "costUsd": _money(self.cost),
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "score": self.score,
        }


def total_cost(calls: Sequence[CallRecord]) -> Decimal:
    """The sum of the calls' known costs (failed and unpriced calls add nothing)."""
    return sum((call.cost for call in calls if call.cost is not None), Decimal(0))


def unpriced(calls: Sequence[CallRecord]) -> int:
    """How many answered calls have no known price, so a total understates the spend."""
    return sum(1 for call in calls if call.ok and call.cost is None)


@dataclass(frozen=True, slots=True)
class ParallelResult:
    """Every entry's call of one :meth:`MultiLLMOrchestrator.parallel_llm_call`.

    Calls keep the order the entries were asked in; failed and timed-out calls are
    listed beside the answers (partial results), so a caller decides what is enough.
    """

    calls: tuple[CallRecord, ...]
    wall_seconds: float
    started_at: datetime
    strategy: str = "parallel"

    @property
    def answers(self) -> tuple[CallRecord, ...]:
        """The calls that answered, in entry order."""
        return tuple(call for call in self.calls if call.ok)

    @property
    def failures(self) -> tuple[CallRecord, ...]:
        """The calls that failed or timed out, in entry order."""
        return tuple(call for call in self.calls if not call.ok)

    @property
    def total_cost(self) -> Decimal:
        """What the calls cost together (see :func:`total_cost`)."""
        return total_cost(self.calls)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values for logs and the console."""
        return _strategy_dict(self.strategy, self.calls, self.wall_seconds, self.started_at)


@dataclass(frozen=True, slots=True)
class ConsensusResult:
    """The answer a consensus picked, how many agreed, and why.

    ``support`` is the number of answers that agreed with the winner (the majority
    group or the similarity cluster, winner included; 1 for a judge's pick) out of
    ``answered``. ``answer`` is ``None`` when no entry answered or the judge gave no
    usable pick; ``reason`` says which. ``calls`` are the parallel calls plus the
    judge's, so the totals include the judge.
    """

    method: str
    answer: CallRecord | None
    support: int
    answered: int
    reason: str
    calls: tuple[CallRecord, ...]
    wall_seconds: float
    started_at: datetime
    agreeing: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        """The winning answer's text (empty when there is none)."""
        return self.answer.text if self.answer is not None else ""

    @property
    def total_cost(self) -> Decimal:
        """The parallel calls and the judge's call together."""
        return total_cost(self.calls)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values for logs and the console."""
        return {
            **_strategy_dict(
                f"consensus:{self.method}", self.calls, self.wall_seconds, self.started_at
            ),
            "winner": self.answer.entry if self.answer is not None else None,
            "text": self.text if self.answer is not None else None,
            "support": self.support,
            "answered": self.answered,
            "agreeing": list(self.agreeing),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CascadeResult:
    """The answer a cascade accepted and every call it took to get there.

    ``answer`` is the first answer scoring at least ``threshold``; when none did,
    ``accepted`` is False and ``answer`` is the best-scoring answer seen (or ``None``
    when nothing answered), so the caller still has something to show.
    """

    answer: CallRecord | None
    accepted: bool
    threshold: float
    calls: tuple[CallRecord, ...]
    wall_seconds: float
    started_at: datetime

    @property
    def text(self) -> str:
        """The chosen answer's text (empty when there is none)."""
        return self.answer.text if self.answer is not None else ""

    @property
    def called(self) -> tuple[str, ...]:
        """The entries called, cheapest first."""
        return tuple(call.entry for call in self.calls)

    @property
    def total_cost(self) -> Decimal:
        """What every call of the cascade cost together."""
        return total_cost(self.calls)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values for logs and the console."""
        return {
            **_strategy_dict("cascade", self.calls, self.wall_seconds, self.started_at),
            "winner": self.answer.entry if self.answer is not None else None,
            "text": self.text if self.answer is not None else None,
            "accepted": self.accepted,
            "threshold": self.threshold,
        }


def _strategy_dict(
    strategy: str, calls: Sequence[CallRecord], wall_seconds: float, started_at: datetime
) -> dict[str, Any]:
    return {
        "strategy": strategy,
        "startedAt": started_at.isoformat(),
        "wallSeconds": wall_seconds,
        "totalCostUsd": _money(total_cost(calls)),
        "unpricedCalls": unpriced(calls),
        "calls": [call.to_dict() for call in calls],
    }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
