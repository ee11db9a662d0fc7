"""Sentence and paragraph boundaries, as character spans of the original text.

Sentences come from sentencex (Wikimedia's segmenter: per-language abbreviation lists
and terminal punctuation for about 300 languages, including ``。！？`` for Chinese and
Japanese, which need no space after them; a compiled wheel with no data to download),
because it returns offsets and is fast (about 20 MB/s). Languages written without
sentence punctuation (Thai, Lao, Khmer) come back as one sentence per paragraph: an
oversize one is then cut by the character splitter, which prefers spaces, where those
languages usually end a phrase. Paragraphs (runs of text between blank lines) are a
regular expression: no library splits them with offsets.
"""

from __future__ import annotations

import re
from typing import Final

import sentencex

_BLANK_LINES: Final = re.compile(r"\n[ \t]*\n\s*")


def sentence_spans(text: str, start: int, end: int, language: str) -> list[tuple[int, int]]:
    """The sentences of ``text[start:end]`` as contiguous ``(start, end)`` spans."""
    found = sentencex.get_sentence_boundaries(language, text[start:end])
    spans = [(start + item["start_index"], start + item["end_index"]) for item in found]
    return spans or [(start, end)]


def paragraph_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The paragraphs of ``text[start:end]`` (split after each run of blank lines)."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for gap in _BLANK_LINES.finditer(text, start, end):
        spans.append((cursor, gap.end()))
        cursor = gap.end()
    if cursor < end:
        spans.append((cursor, end))
    return spans
