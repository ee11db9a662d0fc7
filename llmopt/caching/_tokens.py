"""What one prefix block weighs and what it is: a cheap token estimate and a fingerprint.

The estimate only decides whether a prefix is long enough to be worth a breakpoint,
so it is deliberately cheap and leans low (a slot spent on a prefix that turns out
too short is a slot lost; the request itself never fails):

=====================  ==========================================================
block                  estimated tokens
=====================  ==========================================================
text, string content   characters / 4 (Claude's tokenizer gives more, ~3.5 for
                       English prose and fewer for code, so this undercounts)
tool definition        length of its compact JSON / 4
tool_use, other        length of its compact JSON / 4
tool_result            its text / 4, plus its images and documents as below
image                  ``IMAGE_TOKENS`` (a full-size image is ~1,600)
document               text sources: characters / 4; PDFs, URLs, files:
                       ``DOCUMENT_TOKENS`` (about one page)
thinking, redacted     0 (earlier turns' thinking is stripped from the prompt)
=====================  ==========================================================

A breakpoint is placed only when the estimate reaches the model's minimum times
``SAFETY_MARGIN``.

Fingerprints are 64-bit digests of the block's canonical form without
``cache_control`` (text for text blocks, sorted compact JSON otherwise), the same in
every process and on every machine, so that processes can share what their
:class:`PrefixMemory` learned. A text's digest is remembered (``TEXT_DIGESTS``), so a
text seen before costs a dictionary lookup.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

MAPPINGS: Final = (dict, Mapping)
"""For ``isinstance``: a plain dict is recognised at once, without the slower ABC check."""
CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 800
DOCUMENT_TOKENS = 1_500
SAFETY_MARGIN = 1.05

_TEXT_ONLY = 2  # a plain text block holds "type" and "text" (and maybe "cache_control")
# Tags that keep blocks of different types apart in their fingerprints.
_TOOL_RESULT, _IMAGE, _THINKING, _REDACTED = 1, 2, 3, 4
_PLAIN_RESULT_KEYS = frozenset({"type", "tool_use_id", "content", "is_error", "cache_control"})


def text_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON of ``value``; ``repr`` for what JSON cannot hold."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError):  # mixed key types, circular references
        return repr(value)


def without_markers(block: Mapping[str, Any]) -> Mapping[str, Any]:
    """``block`` without its ``cache_control`` (and its sub-blocks' for tool results)."""
    content = block.get("content")
    nested = isinstance(content, list) and any(
        isinstance(item, MAPPINGS) and "cache_control" in item for item in content
    )
    if "cache_control" not in block and not nested:
        return block
    stripped = {key: value for key, value in block.items() if key != "cache_control"}
    if nested and isinstance(content, list):
        stripped["content"] = [
            without_markers(item) if isinstance(item, MAPPINGS) else item for item in content
        ]
    return stripped


TEXT_DIGESTS: dict[str, int] = {}
"""text -> its fingerprint, for the texts callers hand over again and again. Looking a
text up costs its Python hash, which the string caches, and a comparison that is one
pointer when it is the same string object (LangChain hands the same ones over on each
call); a text loaded afresh with the same content is found too. It is emptied in place
(callers may hold it) past ``_DIGESTS_KEPT`` texts or ``_DIGESTED_CHARS`` characters; a
dictionary's operations are atomic, so threads need no lock: at worst a text is
digested twice."""
_DIGESTS_KEPT = 16_384
_DIGESTED_CHARS = 64_000_000
_digested_chars = 0


def digest(text: str) -> int:
    """The fingerprint of a text, the same in every process: CRC-32 and Adler-32 of its
    UTF-8, 64 bits (fast: a few GB/s)."""
    data = text.encode("utf-8", "surrogatepass")
    return zlib.crc32(data) << 32 | zlib.adler32(data)


def text_fingerprint(text: str) -> int:
    """:func:`digest`, remembered (for texts handed over again)."""
    global _digested_chars
    value = TEXT_DIGESTS.get(text)
    if value is not None:
        return value
    value = digest(text)
    if len(TEXT_DIGESTS) >= _DIGESTS_KEPT or _digested_chars > _DIGESTED_CHARS:
        TEXT_DIGESTS.clear()
        _digested_chars = 0
    TEXT_DIGESTS[text] = value
    _digested_chars += len(text)
    return value


def value_fingerprint(value: Any) -> int:
    """The fingerprint of a short scalar inside a block (an id, a flag, a media type)."""
    if isinstance(value, str):
        return text_fingerprint(value)
    if value is None:
        return 0  # hash(None) differs between processes before Python 3.12
    if isinstance(value, int | float):
        return hash(value)
    return text_fingerprint(canonical_json(value))


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity: fast
class Fingerprints:
    """How blocks are fingerprinted: ``text`` for a text handed over again and again,
    ``value`` for a scalar inside a block, ``fresh`` for a text built anew each call."""

    text: Callable[[str], int]
    value: Callable[[Any], int]
    fresh: Callable[[str], int]


SHARED = Fingerprints(text_fingerprint, value_fingerprint, digest)
"""The same in every process, for memories shared between processes (the digests)."""
LOCAL = Fingerprints(hash, hash, hash)
"""Python's own hashes: free for a string seen before (it keeps its hash), but another
in each process; for memories that stay in one."""


def measure_general(block: Any, fingerprints: Fingerprints = SHARED) -> tuple[int, int]:
    """Tokens and fingerprint from the block's canonical JSON."""
    if isinstance(block, MAPPINGS):
        block = without_markers(block)
    text = canonical_json(block)  # a new string every time: not worth remembering
    return len(text) // CHARS_PER_TOKEN, fingerprints.fresh(text)


class _MeasuredByIdentity:
    """Measurements of objects callers hand over again and again (tool definitions:
    LangChain binds them once). Each entry holds its object, so an id is never
    reused while cached; an object changed in place keeps its first measurement."""

    __slots__ = ("_entries", "_fingerprints", "_size")

    def __init__(self, size: int, fingerprints: Fingerprints) -> None:
        self._size = size
        self._fingerprints = fingerprints
        self._entries: dict[int, tuple[object, int, int]] = {}

    def measure(self, value: object) -> tuple[int, int]:
        found = self._entries.get(id(value))
        if found is not None and found[0] is value:
            return found[1], found[2]
        weight, fingerprint = measure_general(value, self._fingerprints)
        if len(self._entries) >= self._size:
            self._entries.clear()  # tool sets are few: starting over is rare and cheap
        self._entries[id(value)] = (value, weight, fingerprint)
        return weight, fingerprint


_TOOLS = {SHARED: _MeasuredByIdentity(1024, SHARED), LOCAL: _MeasuredByIdentity(1024, LOCAL)}


def measure_tool(tool: Any, fingerprints: Fingerprints = SHARED) -> tuple[int, int]:
    """Tokens and fingerprint of a tool definition (remembered per definition object)."""
    return _TOOLS[fingerprints].measure(tool)


def _media_tokens(block: Mapping[str, Any]) -> int:
    kind = block.get("type")
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        source = block.get("source")
        if isinstance(source, MAPPINGS):
            data = source.get("data")
            if source.get("type") == "text" and isinstance(data, str):
                return text_tokens(data)
            content = source.get("content")
            if source.get("type") == "content":
                return _content_tokens(content)
        return DOCUMENT_TOKENS
    if kind == "text":
        text = block.get("text")
        return text_tokens(text) if isinstance(text, str) else 0
    return len(canonical_json(block)) // CHARS_PER_TOKEN


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return text_tokens(content)
    if isinstance(content, list):
        return sum(_media_tokens(item) if isinstance(item, MAPPINGS) else 0 for item in content)
    return 0


def measure_block(block: Any, fingerprints: Fingerprints = SHARED) -> tuple[int, int]:
    """Tokens and fingerprint of one message content block (or system block)."""
    if not isinstance(block, dict):
        return measure_general(block, fingerprints)
    try:
        return _measure_dict(block, fingerprints)
    except TypeError:  # an unhashable value where a string was expected
        return measure_general(block, fingerprints)


def _measure_dict(block: dict[str, Any], fingerprints: Fingerprints) -> tuple[int, int]:
    text_of, value_of = fingerprints.text, fingerprints.value
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            return measure_general(block, fingerprints)
        if len(block) - ("cache_control" in block) == _TEXT_ONLY:
            return len(text) // CHARS_PER_TOKEN, text_of(text)
        # With citations: the whole block.
        return len(text) // CHARS_PER_TOKEN, measure_general(block, fingerprints)[1]
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str) and _PLAIN_RESULT_KEYS.issuperset(block):
            tool_use_id, is_error = block.get("tool_use_id"), block.get("is_error")
            key = (
                _TOOL_RESULT,
                text_of(tool_use_id) if tool_use_id.__class__ is str else value_of(tool_use_id),
                text_of(content),
                2 if is_error is None else value_of(is_error),
            )
            return len(content) // CHARS_PER_TOKEN, hash(key)
        tokens = _content_tokens(content)
        return tokens, measure_general(block, fingerprints)[1]
    if kind == "image":
        source = block.get("source")
        if isinstance(source, dict) and len(block) - ("cache_control" in block) == _TEXT_ONLY:
            payload = source.get("data") or source.get("url") or source.get("file_id")
            if isinstance(payload, str):
                media = value_of(source.get("media_type"))
                return IMAGE_TOKENS, hash((_IMAGE, media, text_of(payload)))
        return IMAGE_TOKENS, measure_general(block, fingerprints)[1]
    if kind == "thinking":
        thought, signature = block.get("thinking"), block.get("signature")
        return 0, hash((_THINKING, value_of(thought), value_of(signature)))
    if kind == "redacted_thinking":
        return 0, hash((_REDACTED, value_of(block.get("data"))))
    if kind == "document":
        return _media_tokens(block), measure_general(block, fingerprints)[1]
    return measure_general(block, fingerprints)
