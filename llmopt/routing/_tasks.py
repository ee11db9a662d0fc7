"""Task kinds, and the documented rules that infer one from a request's text.

A caller that knows its task says so (``task="code"``); otherwise the router infers it
from the last user message, first rule that matches wins:

=========== ==================================================================
task        inferred when the last user message ...
=========== ==================================================================
code        holds a fenced code block, a traceback, or asks to write, fix,
            refactor, debug or review code / a function / a class / a query /
            a script / a regex / SQL
extraction  asks to extract, list, parse, classify or tag something out of a
            text, or to fill a schema / JSON / table from it
reasoning   asks why, to prove, derive, calculate, compare or plan, or to think
            step by step; or is a math word problem (numbers and an operator)
chat        anything else
=========== ==================================================================

Only the first and the last ``INFER_CHARACTERS`` characters are read (a question often
follows a long document), so inferring costs the same for a 100,000-token prompt as for a
short one.
"""

from __future__ import annotations

import re
from enum import StrEnum


class TaskKind(StrEnum):
    """What a request asks a model to do; rules and entries name these."""

    CODE = "code"
    REASONING = "reasoning"
    CHAT = "chat"
    EXTRACTION = "extraction"


INFER_CHARACTERS = 1_500

_CODE = re.compile(
    r"```|traceback \(most recent call last\)|"
    r"\b(?:write|fix|refactor|debug|review|implement|optimi[sz]e)\b[^.?!\n]{0,60}?"
    r"\b(?:code|function|method|class|script|program|query|sql|regex|bug|unit tests?)\b|"
    r"\bdef \w+\(|\bfunction \w+\(|\bselect\b.+\bfrom\b",
)
_EXTRACTION = re.compile(
    r"\b(?:extract|parse|classify|categori[sz]e|tag|label)\b|"
    r"\blist (?:all|every|each)\b|"
    r"\b(?:fill|return|output|give)\b[^.?!\n]{0,40}?\b(?:json|schema|table|csv|fields)\b",
)
_REASONING = re.compile(
    r"\b(?:why|prove|derive|calculate|compute|compare|plan|step by step|reason)\b|"
    r"\d+(?:\.\d+)?\s*[-+*/×÷^]\s*\d+",
)
_RULES = (
    (TaskKind.CODE, _CODE),
    (TaskKind.EXTRACTION, _EXTRACTION),
    (TaskKind.REASONING, _REASONING),
)


def infer_task(text: str) -> TaskKind:
    """The task kind of a request whose last user message is ``text`` (see the table)."""
    # Lower-cased once: re's IGNORECASE matching is several times slower.
    if len(text) > 2 * INFER_CHARACTERS:
        text = text[:INFER_CHARACTERS] + "\n" + text[-INFER_CHARACTERS:]
    head = text.lower()
    for task, pattern in _RULES:
        if pattern.search(head):
            return task
    return TaskKind.CHAT
