"""Text helpers shared by the checks: message text, content words, numbers, sentences."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+(?:[.,]\d+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Split after . ! ? followed by space and a capital/digit, not after common abbreviations.
_SENTENCE_END = re.compile(r"(?<![A-Z][a-z]\.)(?<!\b[A-Za-z]\.)(?<=[.!?])\s+(?=[\"'(A-Z0-9])")
_FENCE = re.compile(r"```[^\n]*\n.*?(?:```|\Z)", re.DOTALL)

# Words that carry no topic: left out when texts are compared by the words they share.
_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been
before being below between both but by can could did do does doing down during each
few for from further had has have having he her here hers herself him himself his
how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours out over own same she should so some such than that
the their theirs them then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your
yours yourself please tell explain give describe let us
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def message_text(value: Any) -> str:
    """The text of a string, a LangChain message, or the last message of a list."""
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return message_text(value[-1]) if value else ""
    text = getattr(value, "text", None)
    if isinstance(text, str):
        return text
    if callable(text):  # langchain-core < 1.0: a method
        result = text()
        if isinstance(result, str):
            return result
    content = getattr(value, "content", value)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            block
            if isinstance(block, str)
            else str(block.get("text", ""))
            if isinstance(block, Mapping)
            else ""
            for block in content
        )
    return str(content)


def _normalise(word: str) -> str:
    word = word.lower().strip("'-")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased words minus stop words, plurals folded, numbers kept as written."""
    words = {_normalise(w) for w in _WORD.findall(text)}
    return {w for w in words if w and w not in STOPWORDS and (len(w) > 1 or w.isdigit())}


def numbers(text: str) -> set[str]:
    """The numbers written in ``text`` (thousands separators removed)."""
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def sentences(text: str) -> list[str]:
    """The prose sentences of ``text``: fenced code dropped, lines and sentences split."""
    prose = _FENCE.sub("\n", text)
    found: list[str] = []
    for line in prose.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)]|#+)\s+", "", line).strip()
        if line:
            found.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return found
