"""Packing pieces of a text into chunks that fit a token budget.

Every strategy first cuts the text into pieces (sentences, paragraphs, Markdown blocks,
words) and this module does the rest the same way for all: a piece over the budget is
cut finer (a block into sentences, a sentence or a code block by LangChain's
``RecursiveCharacterTextSplitter`` sized by the same token counter, which prefers line
breaks, then spaces, then any character), pieces are packed greedily, a hard boundary
(a new Markdown section, a drop in meaning) always starts a chunk, and ``overlap``
repeats the tail of one chunk at the head of the next. Each chunk is counted once more
as a whole and halved if the counter is not additive (a real tokenizer may count two
pieces joined as more than apart). Chunks are trimmed of surrounding whitespace, so
``text[start:end]`` is exactly the chunk's text; whitespace-only chunks are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from langchain_text_splitters import RecursiveCharacterTextSplitter

Count = Callable[[str], int]


class Grain(IntEnum):
    """How a piece over the budget is cut further."""

    BLOCK = 0  # into sentences, then characters
    SENTENCE = 1  # by the character splitter
    CODE = 2  # by the character splitter (lines first)


@dataclass(frozen=True, slots=True)
class Piece:
    start: int
    end: int
    grain: Grain = Grain.BLOCK
    heading_path: tuple[str, ...] = ()
    starts_chunk: bool = False


@dataclass(frozen=True, slots=True)
class Span:
    """One chunk: ``text[start:end]``, its tokens and the headings above it."""

    start: int
    end: int
    tokens: int
    heading_path: tuple[str, ...]


class Packer:
    def __init__(
        self,
        count: Count,
        max_tokens: int,
        overlap_tokens: int,
        sentences: Callable[[str, int, int], list[tuple[int, int]]],
    ) -> None:
        self._count = count
        self._max = max_tokens
        self._overlap = overlap_tokens
        self._sentences = sentences
        self._characters = RecursiveCharacterTextSplitter(
            separators=["\n\n", "\n", " ", ""],
            chunk_size=max_tokens,
            chunk_overlap=0,
            length_function=count,
            strip_whitespace=False,
        )

    def pack(self, text: str, pieces: Sequence[Piece]) -> list[Span]:
        units: list[tuple[Piece, int]] = []
        for piece in pieces:
            units.extend(self._fitting(text, piece))
        spans: list[Span] = []
        current: list[tuple[Piece, int]] = []
        tokens = 0
        for piece, size in units:
            if current and (piece.starts_chunk or tokens + size > self._max):
                self._emit(text, current, spans)
                current = [] if piece.starts_chunk else self._tail(current, size)
                tokens = sum(s for _, s in current)
            current.append((piece, size))
            tokens += size
        if current:
            self._emit(text, current, spans)
        return spans

    def _fitting(self, text: str, piece: Piece) -> list[tuple[Piece, int]]:
        """The piece, or its parts when it is over the budget, each with its tokens."""
        size = self._count(text[piece.start : piece.end])
        if size <= self._max:
            return [(piece, size)]
        if piece.grain == Grain.BLOCK:
            parts = self._sentences(text, piece.start, piece.end)
            if len(parts) > 1:
                path, first = piece.heading_path, piece.starts_chunk
                out: list[tuple[Piece, int]] = []
                for i, (start, end) in enumerate(parts):
                    part = Piece(start, end, Grain.SENTENCE, path, first and i == 0)
                    out.extend(self._fitting(text, part))
                return out
        return [
            (Piece(start, end, Grain.CODE, piece.heading_path, piece.starts_chunk and i == 0), n)
            for i, (start, end, n) in enumerate(self._cut(text, piece.start, piece.end))
        ]

    def _cut(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        """``text[start:end]`` cut into spans within the budget, down to characters."""
        out: list[tuple[int, int, int]] = []
        cursor = start
        for part in self._characters.split_text(text[start:end]):
            # Parts may repeat whitespace (it counts no tokens, so the splitter's overlap
            # logic keeps it even at chunk_overlap=0): locate each part without it.
            core = part.strip()
            at = text.find(core, cursor, end) if core else cursor
            if at < 0:  # not expected; cut the rest by halves instead
                break
            if core:
                out.extend(self._halve(text, at, at + len(core)))
            cursor = at + len(core)
        if cursor < end and text[cursor:end].strip():
            out.extend(self._halve(text, cursor, end))
        return self._rejoined(text, out)

    def _rejoined(self, text: str, parts: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """Neighbouring parts joined again while they fit: the splitter sizes a text by
        the sum of its parts' counts and wants less than the budget, so it cuts more
        often than the budget needs (mid-word in scripts whose marks count apart)."""
        joined: list[tuple[int, int, int]] = []
        for start, end, size in parts:
            if joined:
                first, _, _ = joined[-1]
                together = self._count(text[first:end])
                if together <= self._max:
                    joined[-1] = (first, end, together)
                    continue
            joined.append((start, end, size))
        return joined

    def _halve(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        size = self._count(text[start:end])
        if size <= self._max or end - start <= 1:
            # A single character over the budget cannot be cut: it goes alone.
            return [(start, end, size)]
        middle = (start + end) // 2
        return self._halve(text, start, middle) + self._halve(text, middle, end)

    def _tail(self, units: list[tuple[Piece, int]], next_size: int) -> list[tuple[Piece, int]]:
        """The last units of a chunk that the next chunk repeats as its overlap."""
        if self._overlap <= 0:
            return []
        tail: list[tuple[Piece, int]] = []
        total = 0
        for piece, size in reversed(units):
            if total + size > self._overlap or total + size + next_size > self._max:
                break
            tail.insert(0, (piece, size))
            total += size
        if len(tail) == len(units):  # repeat part of a chunk, never all of it
            tail = tail[1:]
        return tail

    def _emit(self, text: str, units: list[tuple[Piece, int]], spans: list[Span]) -> None:
        start, end = _trimmed(text, units[0][0].start, units[-1][0].end)
        if start == end:
            return
        size = self._count(text[start:end])
        if size > self._max and len(units) > 1:
            middle = len(units) // 2
            self._emit(text, units[:middle], spans)
            self._emit(text, units[middle:], spans)
            return
        path = units[0][0].heading_path
        if size > self._max:
            for s, e, _ in self._halve(text, start, end):
                s, e = _trimmed(text, s, e)
                if s < e:
                    spans.append(Span(s, e, self._count(text[s:e]), path))
            return
        spans.append(Span(start, end, size, path))


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
