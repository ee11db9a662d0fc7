r"""A fast token count from character classes, the same as the sandbox's.

The counting it reproduces (the sandbox's, which its Anthropic, OpenAI and Ollama
stand-ins share) makes one token of each run of word characters (``\w``) and one of each
other character that is not a space (``\s``). The count here is the same, to the token,
for any text, without a regular expression matching token by token: the text becomes one
byte a character, each byte standing for a character of the same class, and two C-speed
passes over the bytes count:

1. one ``bytes.translate`` marks word bytes ``1`` and the rest ``0``; read as one big
   integer ``x`` (8 bits a byte), the runs of words start where ``x & ~(x << 8)`` has a
   bit, so ``bit_count()`` counts them;
2. another ``translate`` deletes the bytes of other characters: the length lost counts
   them.

Text of Latin-1 characters is its Latin-1 bytes. Wider text first goes through one
``re.split`` on the characters past ASCII that are not word characters (punctuation,
symbols, spaces, combining marks) and on ``?``; each becomes ``!``, of the same class
(the spaces among them are subtracted again), and the word characters left become ``?``
as the text is encoded as ASCII with ``errors="replace"``. A character split off costs
the regular expression engine a match, which the combining marks of Devanagari and other
scripts, a character in four of their text, would make slow: so when a sample of the
text shows that one 128-character block's non-word characters would cost more than a
code page for it, they are not split off, and the text is encoded with a code page of
ASCII and that block (``codecs.charmap_encode``) whose bytes classify them. Characters
past the Basic Multilingual Plane (emoji, rare ideographs), rare, are classified one by
one first.

A 100,000-token prompt takes about 2 ms in ASCII, 5-6 ms for the corpus's prose and code
(a few typographic characters make it wide) and 6-7 ms for its non-English text
(twelve languages; Hindi alone about 2 ms, on its code page), where the sandbox's regular
expression takes 25-30 ms, on a 2-CPU machine with other work running;
``tests/benchmarks/bench_tokens.py`` prints these. Each route (its regular expression and
code page) is built on its first use, in about 10 ms.
"""

from __future__ import annotations

import codecs
import functools
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

_BLOCK: Final = 128
_SAMPLE: Final = 2_048

_LATIN1: Final = "".join(map(chr, range(256)))
_ASCII: Final = _LATIN1[:128]
# What each byte of a wide text's ASCII encoding stands for: "?" is a word character
# encoded with errors="replace", the text's own "?" having become "!".
_WIDE_ASCII: Final = _ASCII.replace("?", "a")


def _tables(page: str) -> tuple[bytes, bytes]:
    """The ``translate`` table marking the bytes that stand for word characters, and the
    bytes that stand for other non-space characters; ``page`` is the character each byte
    stands for."""
    word = bytes(re.fullmatch(r"\w", char) is not None for char in page)
    other = bytes(byte for byte, char in enumerate(page) if re.fullmatch(r"[^\w\s]", char))
    return word.ljust(256, b"\0"), other


_LATIN1_TABLES: Final = _tables(_LATIN1)


@dataclass(frozen=True, slots=True)
class _Route:
    """How a wide text becomes one byte a character: the characters split off (and
    replaced with ``!``), the encoding of the rest, and its ``translate`` tables."""

    split_off: re.Pattern[str]
    encode: Callable[[str], bytes]
    tables: tuple[bytes, bytes]


def _non_word_spans(first: int, end: int) -> str:
    chars = "".join(map(chr, range(first, end)))
    return "".join(
        f"{re.escape(found[0][0])}-{re.escape(found[0][-1])}"
        for found in re.finditer(r"\W+", chars)
    )


@functools.cache
def _route(block: int | None) -> _Route:
    """The route of texts whose non-word characters are mostly in ``block`` (code points
    ``block * 128`` on), or spread out (``None``)."""
    # The non-word characters of the Basic Multilingual Plane past ASCII, as spans (a
    # bitmap to the regular expression engine, quick to test), but the block's.
    first, end = (0x10000, 0x10000) if block is None else (block * _BLOCK, (block + 1) * _BLOCK)
    spans = _non_word_spans(0x80, first) + _non_word_spans(end, 0x10000)
    split_off = re.compile(f"([?{spans}])")
    if block is None:
        return _Route(split_off, lambda text: text.encode("ascii", "replace"), _tables(_WIDE_ASCII))
    chars = "".join(map(chr, range(first, end)))
    page = codecs.charmap_build(_ASCII + chars)
    return _Route(
        split_off,
        lambda text: codecs.charmap_encode(text, "replace", page)[0],
        _tables(_WIDE_ASCII + chars),
    )


_PAST_PLANE: Final = re.compile("[\U00010000-\U0010ffff]")
# CPython stores a string with 4 bytes a character when it holds one past the plane.
_FOUR_BYTE_HEADER: Final = sys.getsizeof("\U00010000") - 8


def _holds_past_plane(text: str) -> bool:
    """Whether ``text`` may hold characters past the Basic Multilingual Plane (O(1))."""
    return sys.getsizeof(text) >= _FOUR_BYTE_HEADER + 4 * (len(text) + 1)


def _busiest_block(text: str) -> int | None:
    """The block worth a code page of its own for ``text``, judged from a sample: one
    whose non-word characters, split off, would cost more than the code page does."""
    sample = text[:: max(1, len(text) // _SAMPLE)]
    non_words = Counter(
        ord(char) // _BLOCK
        for char in _route(None).split_off.findall(sample)
        if char != "?" and not "\ud800" <= char <= "\udfff"
    )
    if not non_words:
        return None
    [(block, count)] = non_words.most_common(1)
    blocks = Counter(ord(char) // _BLOCK for char in sample)
    elsewhere = len(sample) - blocks[0] - blocks[block]
    # Measured: splitting a character off costs about what encoding 16 characters costs
    # through a code page's "replace" path (those neither ASCII nor in the block), or
    # encoding 5 x 16 characters through the page rather than as ASCII.
    return block if count * 16 >= elsewhere + len(sample) // 5 else None


def _wide_as_bytes(text: str) -> tuple[bytes, tuple[bytes, bytes], int]:
    """``text`` as one byte a character, the tables that classify the bytes, and the
    spaces among the characters that became ``!``."""
    if _holds_past_plane(text):
        text = _PAST_PLANE.sub(lambda found: "a" if found[0].isalnum() else "!", text)
    route = _route(_busiest_block(text))
    parts = route.split_off.split(text)
    split_off = "".join(parts[1::2])
    spaces = len(split_off) - len("".join(split_off.split()))
    return route.encode("!".join(parts[::2])), route.tables, spaces


def estimate_text_tokens(text: str) -> int:
    """The tokens of ``text`` as the sandbox counts them (see the module docstring)."""
    if not text:
        return 0
    spaces = 0
    try:
        data, (word_bytes, other_bytes) = text.encode("latin-1"), _LATIN1_TABLES
    except UnicodeEncodeError:
        data, (word_bytes, other_bytes), spaces = _wide_as_bytes(text)
    words = int.from_bytes(data.translate(word_bytes), "little")
    starts = words ^ (words & (words << 8))
    others = len(data) - len(data.translate(None, other_bytes))
    return starts.bit_count() + others - spaces
