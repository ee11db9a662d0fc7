"""Did the answer finish, and did it answer every numbered question.

Two cheap signs of an incomplete answer. The provider says when it stopped at the
``max_tokens`` limit (a LangChain message's ``response_metadata``):

==========  =======================================
provider    truncated when
==========  =======================================
Anthropic   ``stop_reason == "max_tokens"``
OpenAI      ``finish_reason == "length"``
Ollama      ``done_reason == "length"``
==========  =======================================

And a request that numbers its questions ("1." / "1)" / "Q1" at the start of a line)
expects each number back: the answer is scanned for the same markers, and a question
counts as answered when its number starts a line of the answer (``1.``, ``1)``, ``Q1``,
``**1.``, ``## 1``) . An answer that does not number its parts at all is given the
benefit of the doubt when it has at least as many paragraphs as there are questions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmopt.quality._score import CheckResult
from llmopt.quality._text import message_text

_QUESTION = re.compile(
    r"^[ \t>*_#]*(?:Q(?:uestion)?[ \t]*(\d{1,2})\b|(\d{1,2})[.)](?=[\s*_]))", re.M | re.I
)


def is_truncated(message: Any) -> bool:
    """True when the provider stopped ``message`` at its token limit (see module table).

    Accepts a LangChain message or its ``response_metadata`` mapping; a plain string
    gives False (nothing says it was cut).
    """
    metadata = (
        message if isinstance(message, Mapping) else getattr(message, "response_metadata", None)
    )
    if not isinstance(metadata, Mapping):
        return False
    return (
        metadata.get("stop_reason") == "max_tokens"
        or metadata.get("finish_reason") == "length"
        or metadata.get("done_reason") == "length"
    )


def numbered_items(text: str) -> list[int]:
    """The numbers that start lines of ``text`` as "1." / "1)" / "Q1", in order, once each."""
    seen: list[int] = []
    for match in _QUESTION.finditer(text):
        number = int(match.group(1) or match.group(2))
        if number not in seen:
            seen.append(number)
    return seen


def check_completeness(answer: Any, *, request: Any = None) -> CheckResult:
    """Whether ``answer`` (a LangChain message or text) is whole.

    Score 0 when the provider truncated it or it is empty; otherwise the share of the
    request's numbered questions it answers (1 when the request numbers none). ``request``
    is text, a message or a list of messages (the last one is read).
    """
    text = message_text(answer)
    if is_truncated(answer):
        return CheckResult(
            "completeness",
            0.0,
            "the answer was cut off at the max_tokens limit",
            {"truncated": True},
        )
    if not text.strip():
        return CheckResult("completeness", 0.0, "the answer is empty", {"truncated": False})
    asked = numbered_items(message_text(request)) if request is not None else []
    if len(asked) < 2:
        return CheckResult(
            "completeness", 1.0, "the answer finished", {"truncated": False, "questions": 0}
        )
    given = set(numbered_items(text))
    missing = [n for n in asked if n not in given]
    details: dict[str, Any] = {"truncated": False, "questions": len(asked), "missing": missing}
    if not given:
        paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        if len(paragraphs) >= len(asked):
            details["missing"] = []
            return CheckResult(
                "completeness",
                1.0,
                f"the answer has a paragraph for each of the {len(asked)} questions "
                "(it does not number them)",
                details,
            )
    answered = len(asked) - len(missing)
    if not missing:
        reason = f"all {len(asked)} numbered questions are answered"
    else:
        reason = (
            f"{answered} of {len(asked)} numbered questions are answered; missing: "
            + ", ".join(str(n) for n in missing)
        )
    return CheckResult("completeness", answered / len(asked), reason, details)
