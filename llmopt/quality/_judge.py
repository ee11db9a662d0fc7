"""An opt-in LLM judge: another model rates the answer from 0 to 10.

The cheap checks cannot tell a fluent wrong answer from a right one; a judge model can,
at the price of a call. It is never used unless the caller passes one, and what its
call cost is reported (:func:`llmopt.providers.cost_of` on the judge's usage) so the
savings of a cascade are not overstated. The judge is asked for JSON
``{"score": <0-10>, "reason": "..."}``; a reply with no readable score gives no part
(the answer is not punished for the judge's mistake), but its cost still counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.providers import TokenUsage, cost_of
from llmopt.quality._score import CheckResult
from llmopt.quality._text import message_text

JUDGE_PROMPT = (
    "You grade answers given by an AI assistant. Rate how well the answer serves the "
    "request: correct, complete, relevant and, when context is given, supported by it. "
    'Reply with JSON only: {"score": <integer 0 to 10>, "reason": "<one sentence>"}.'
)
_SCORE = re.compile(r'"score"\s*:\s*"?(\d+(?:\.\d+)?)')


def _judge_cost(judge: BaseChatModel, reply: Any) -> Decimal | None:
    from llmopt.wrapper._model_classes import provider_of

    usage = getattr(reply, "usage_metadata", None)
    provider = provider_of(judge)
    model = getattr(judge, "model", None) or getattr(judge, "model_name", None)
    if not usage or provider is None or not isinstance(model, str):
        return None
    cost = cost_of(TokenUsage.from_langchain(usage), provider=provider, model=model)
    return None if cost is None else cost.total


def parse_judge_reply(text: str) -> tuple[float, str] | None:
    """The 0..1 score and reason in a judge's reply, or ``None`` when it has no score."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match is not None:
        try:
            value = json.loads(match.group(0))
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("score"), int | float):
            return max(0.0, min(1.0, float(value["score"]) / 10)), str(value.get("reason", ""))
    found = _SCORE.search(text)
    if found is None:
        return None
    return max(0.0, min(1.0, float(found.group(1)) / 10)), ""


def judge_response(
    judge: BaseChatModel,
    request: Any,
    answer: Any,
    *,
    context: Sequence[str] | None = None,
) -> tuple[CheckResult | None, Decimal | None, str]:
    """Ask ``judge`` to rate ``answer``: (the part or ``None``, the call's USD cost, a note).

    The cost is ``None`` when the judge's provider, model or price is unknown. Errors of
    the judge's call propagate (the caller decides whether a failed judge matters).
    """
    parts = [f"Request:\n{message_text(request)}", f"Answer:\n{message_text(answer)}"]
    if context:
        parts.insert(1, "Context:\n" + "\n---\n".join(context))
    reply = judge.invoke([SystemMessage(JUDGE_PROMPT), HumanMessage("\n\n".join(parts))])
    cost = _judge_cost(judge, reply)
    parsed = parse_judge_reply(message_text(reply))
    if parsed is None:
        return None, cost, "the judge's reply held no score"
    score, reason = parsed
    return (
        CheckResult("judge", round(score, 4), reason or f"the judge scored {score * 10:g}/10"),
        cost,
        "",
    )
