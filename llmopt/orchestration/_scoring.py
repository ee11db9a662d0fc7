"""How good an answer is, as a number from 0 to 1, and answers ordered by it.

A scorer is any ``scorer(request_messages, answer) -> float`` in 0..1; the quality
monitor plugs in here. Without one, :func:`usable_answer_score` only rejects answers
no one could use (empty, refused, cut off by the token limit): it costs nothing and
never calls a model, so a cascade without a monitor still escalates on plain failures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from langchain_core.messages import AIMessage, BaseMessage

from llmopt.failover._classify import classify_response
from llmopt.orchestration._records import CallRecord, ParallelResult

Scorer = Callable[[Sequence[BaseMessage], AIMessage], float]

# Anthropic's stop_reason, OpenAI's finish_reason and Ollama's done_reason for a cut-off.
_TRUNCATED = {
    ("stop_reason", "max_tokens"),
    ("stop_reason", "model_context_window_exceeded"),
    ("finish_reason", "length"),
    ("done_reason", "length"),
}


def is_truncated(answer: AIMessage) -> bool:
    """True when the provider says the answer stopped at the token limit."""
    metadata = answer.response_metadata
    return any(metadata.get(key) == value for key, value in _TRUNCATED)


def usable_answer_score(request: Sequence[BaseMessage], answer: AIMessage) -> float:
    """0.0 for an empty, refused or truncated answer, else 1.0.

    The default scorer: it judges only whether an answer can be used at all, not
    whether it is right. Plug in the quality monitor for that.
    """
    if not answer.text.strip():
        return 0.0
    if classify_response(answer) is not None or is_truncated(answer):
        return 0.0
    return 1.0


def rank_results(
    result: ParallelResult | Sequence[CallRecord],
    scorer: Scorer = usable_answer_score,
    *,
    request: Sequence[BaseMessage] = (),
) -> list[CallRecord]:
    """The answered calls, best first: by score (highest), then cost (cheapest; an
    unknown cost ranks after known ones), then latency.

    Each returned record carries its ``score``. Failed calls are left out. ``request``
    is passed to the scorer (the messages the answers reply to).
    """
    calls = result.calls if isinstance(result, ParallelResult) else tuple(result)
    scored = [
        with_score(call, scorer(request, call.answer)) for call in calls if call.answer is not None
    ]
    return sorted(
        scored,
        key=lambda call: (
            -(call.score or 0.0),
            call.cost is None,
            call.cost or 0,
            call.latency_seconds,
        ),
    )


def with_score(call: CallRecord, score: float) -> CallRecord:
    """``call`` with ``score`` clamped to 0..1."""
    return replace(call, score=min(1.0, max(0.0, float(score))))
