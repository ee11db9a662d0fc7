"""Markdown blocks with the headings above them, as character spans.

LangChain's ``MarkdownHeaderTextSplitter`` finds the same headings but returns the
sections' text re-joined line by line, without offsets into the original (and strips
it), so a chunk could not be traced back to its place; this scanner is the few lines of
CommonMark needed to keep offsets: ATX headings (``#`` to ``######``, outside fenced
code), fenced code blocks (backticks or tildes, closed by a fence of the same character
at least as long, or by the end of the text), list items (``-``, ``*``, ``+``, ``1.``,
``1)``) with their continuation lines, and paragraphs between blank lines. Setext
headings (a line underlined with ``===``), HTML blocks and tables are paragraphs here.
A heading always starts a new chunk, so each chunk's heading path is true for all of it.
"""

from __future__ import annotations

import re
from typing import Final

from llmopt.chunking._pieces import Grain, Piece

_FENCE: Final = re.compile(r" {0,3}(`{3,}|~{3,})")
_HEADING: Final = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\r?\n?\Z")
_LIST_ITEM: Final = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]")


def markdown_pieces(text: str) -> list[Piece]:
    """The blocks of a Markdown text, each with the heading path above it."""
    pieces: list[Piece] = []
    headings: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    block_start = -1  # the open paragraph or list item, if any
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    i = 0

    def close(end: int) -> None:
        nonlocal block_start
        if block_start >= 0:
            pieces.append(Piece(block_start, end, Grain.BLOCK, path))
            block_start = -1

    while i < len(lines):
        line, at = lines[i], offsets[i]
        if not line.strip():
            close(at)
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            close(at)
            marker = fence.group(1)
            j = i + 1
            while j < len(lines):
                closing = _FENCE.match(lines[j])
                if (
                    closing
                    and closing.group(1)[0] == marker[0]
                    and len(closing.group(1)) >= len(marker)
                    and not lines[j][closing.end() :].strip()
                ):
                    j += 1
                    break
                j += 1
            pieces.append(Piece(at, offsets[j], Grain.CODE, path))
            i = j
            continue
        heading = _HEADING.match(line)
        if heading:
            close(at)
            level = len(heading.group(1))
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, (heading.group(2) or "").strip()))
            path = tuple(title for _, title in headings)
            pieces.append(Piece(at, offsets[i + 1], Grain.SENTENCE, path, starts_chunk=True))
            i += 1
            continue
        if _LIST_ITEM.match(line):
            close(at)
            block_start = at
        elif block_start < 0:
            block_start = at
        i += 1
    close(len(text))
    return pieces
