"""A request seen as its cache prefix: blocks in prefix order, and copy-on-write edits.

:func:`walk` flattens a Messages request into the blocks the cache prefix is made
of (tools, then system, then each message's content blocks), with the running token
estimate and rolling fingerprint at each block, which blocks may carry a breakpoint,
and the ``cache_control`` markers the caller already placed.

:class:`PayloadEditor` changes a request without touching the caller's objects: the
first edit under a path shallow-copies only the containers on that path.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmopt.caching._tokens import (
    CHARS_PER_TOKEN,
    MAPPINGS,
    SHARED,
    TEXT_DIGESTS,
    Fingerprints,
    canonical_json,
    measure_block,
    measure_tool,
)

Path = tuple[str | int, ...]

_PREFIX = 0x6C6C6D6F7074  # starts every rolling fingerprint
_NO_DIGESTS: dict[str, int] = {}

_NEVER_MARKED = {
    "thinking": "thinking blocks cannot carry cache_control",
    "redacted_thinking": "redacted thinking blocks cannot carry cache_control",
}
_MEDIA = frozenset({"image", "document"})
_EMPTY_TEXT = "empty text blocks cannot carry cache_control"
_CODE_EXECUTION = "blocks of code execution calls cannot carry cache_control"


def is_blank(text: object) -> bool:
    return not isinstance(text, str) or not text or text.isspace()


@dataclass(slots=True)
class CallerMarker:
    """A ``cache_control`` the caller placed.

    ``index`` is the block's position in prefix order (the block count for the
    request's top-level ``cache_control``); ``sub`` the sub-block of a tool result's
    content, if the marker sits there; ``problem`` why the API would refuse it.
    """

    index: int
    sub: int | None
    value: Any
    problem: str | None = None


@dataclass(slots=True)
class Prefix:
    """The blocks of one request in prefix order; the lists hold one item per block.

    ``tokens[i]`` is the estimated length of the prefix through block ``i``,
    ``fingerprints[i]`` its fingerprint (rolling: each folds in the one before), and
    ``cacheable[i]`` whether the planner may mark block ``i``. Blocks ``[0,
    tool_count)`` are tools, ``[tool_count, messages_start)`` system blocks, and
    message ``m`` starts at ``message_starts[m]`` (an empty message where the next one
    starts). ``tools_fingerprint`` and ``static_fingerprint`` are the fingerprints of
    the tools alone and of tools plus system.
    """

    tokens: list[int]
    fingerprints: list[int]
    cacheable: list[bool]
    tool_count: int
    messages_start: int
    message_starts: list[int]
    roles: list[object]
    caller_markers: list[CallerMarker]
    tools_fingerprint: int
    static_fingerprint: int

    @property
    def count(self) -> int:
        return len(self.tokens)

    @property
    def has_system(self) -> bool:
        return self.messages_start > self.tool_count

    def message_of(self, index: int) -> int:
        return bisect_right(self.message_starts, index) - 1

    def path(self, index: int) -> Path:
        if index < self.tool_count:
            return ("tools", index)
        if index < self.messages_start:
            return ("system", index - self.tool_count)
        message = self.message_of(index)
        return ("messages", message, "content", index - self.message_starts[message])

    def location(self, index: int, sub: int | None = None) -> str:
        if index >= self.count:
            return "cache_control"
        path = self.path(index)
        if path[0] == "messages":
            text = f"messages[{path[1]}].content[{path[3]}]"
        else:
            text = f"{path[0]}[{path[1]}]"
        return text if sub is None else f"{text}.content[{sub}]"

    def last_cacheable(self, start: int, stop: int) -> int | None:
        """The last block in ``[start, stop)`` that may carry a breakpoint."""
        cacheable = self.cacheable
        for index in range(stop - 1, start - 1, -1):
            if cacheable[index]:
                return index
        return None


def _marker(block: Any) -> Any:
    return block.get("cache_control") if isinstance(block, MAPPINGS) else None


def walk(payload: Mapping[str, Any], model: str, scheme: Fingerprints = SHARED) -> Prefix:
    """Flatten ``payload`` into its prefix blocks (see the module docstring), with
    fingerprints by ``scheme``: the same in every process (``SHARED``) or Python's own
    (``LOCAL``)."""
    # The hot path of every call: plain text blocks and string contents take a short
    # cut, everything else goes through measure_block and _classify.
    tokens: list[int] = []
    fingerprints: list[int] = []
    cacheable: list[bool] = []
    markers: list[CallerMarker] = []
    add_tokens, add_fingerprint, add_cacheable = (
        tokens.append,
        fingerprints.append,
        cacheable.append,
    )
    total = 0
    text_of = scheme.text
    rolling = hash((_PREFIX, text_of(model)))
    # Looked up inline below, the hot path of long chats; Python's hashes need no table.
    digests = TEXT_DIGESTS if scheme is SHARED else _NO_DIGESTS

    tools = payload.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            weight, fingerprint = measure_tool(tool, scheme)
            total += weight
            rolling = hash((rolling, fingerprint))
            add_tokens(total)
            add_fingerprint(rolling)
            is_tool = isinstance(tool, MAPPINGS)
            add_cacheable(is_tool and not tool.get("defer_loading"))
            if is_tool and tool.get("cache_control") is not None:
                markers.append(CallerMarker(len(tokens) - 1, None, tool["cache_control"]))
    tool_count = len(tokens)
    tools_fingerprint = rolling

    system = payload.get("system")
    if isinstance(system, str):
        total += len(system) // CHARS_PER_TOKEN
        rolling = hash((rolling, text_of(system)))
        add_tokens(total)
        add_fingerprint(rolling)
        add_cacheable(not is_blank(system))
    elif isinstance(system, list):
        for block in system:
            weight, fingerprint = measure_block(block, scheme)
            total += weight
            rolling = hash((rolling, fingerprint))
            add_tokens(total)
            add_fingerprint(rolling)
            is_text = isinstance(block, MAPPINGS) and block.get("type") == "text"
            usable = is_text and not is_blank(block.get("text"))
            add_cacheable(usable)
            value = _marker(block)
            if value is not None:
                problem = _EMPTY_TEXT if is_text and not usable else None
                markers.append(CallerMarker(len(tokens) - 1, None, value, problem))
    messages_start = len(tokens)
    static_fingerprint = rolling

    # tool_choice and thinking settings are part of the messages' cache level.
    settings = (payload.get("tool_choice"), payload.get("thinking"))
    if settings != (None, None):
        rolling = hash((rolling, scheme.fresh(canonical_json(settings))))

    message_starts: list[int] = []
    roles: list[object] = []
    code_execution_ids: set[object] = set()
    messages = payload.get("messages")
    for message in messages if isinstance(messages, list) else ():
        message_starts.append(len(tokens))
        if not isinstance(message, MAPPINGS):
            roles.append(None)
            continue
        role = message.get("role")
        roles.append(role)
        if role == "user":
            role_code = 1
        elif role == "assistant":
            role_code = 2
        else:
            role_code = scheme.value(role)
        content = message.get("content")
        if isinstance(content, str):
            total += len(content) // CHARS_PER_TOKEN
            digest = digests.get(content)
            if digest is None:
                digest = text_of(content)
            rolling = hash((rolling, role_code, digest))
            add_tokens(total)
            add_fingerprint(rolling)
            add_cacheable(bool(content) and not content.isspace())
            continue
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and len(block) == 2 and block.get("type") == "text":
                text = block.get("text")
                if isinstance(text, str):  # a plain text block without a marker
                    total += len(text) // CHARS_PER_TOKEN
                    digest = digests.get(text)
                    if digest is None:
                        digest = text_of(text)
                    rolling = hash((rolling, role_code, digest))
                    add_tokens(total)
                    add_fingerprint(rolling)
                    add_cacheable(bool(text) and not text.isspace())
                    continue
            weight, fingerprint = measure_block(block, scheme)
            total += weight
            rolling = hash((rolling, role_code, fingerprint))
            add_tokens(total)
            add_fingerprint(rolling)
            if not isinstance(block, MAPPINGS):
                add_cacheable(False)
                continue
            usable, problem = _classify(block, code_execution_ids)
            add_cacheable(usable)
            value = block.get("cache_control")
            index = len(tokens) - 1
            if value is not None:
                markers.append(CallerMarker(index, None, value, problem))
            nested = block.get("content")
            if isinstance(nested, list) and block.get("type") == "tool_result":
                _nested_markers(nested, index, problem, markers)

    return Prefix(
        tokens=tokens,
        fingerprints=fingerprints,
        cacheable=cacheable,
        tool_count=tool_count,
        messages_start=messages_start,
        message_starts=message_starts,
        roles=roles,
        caller_markers=markers,
        tools_fingerprint=tools_fingerprint,
        static_fingerprint=static_fingerprint,
    )


def _classify(block: Mapping[str, Any], code_execution_ids: set[object]) -> tuple[bool, str | None]:
    """Whether the planner may mark ``block``, and why a caller's marker there must go."""
    kind = block.get("type")
    if kind == "text":
        return (False, _EMPTY_TEXT) if is_blank(block.get("text")) else (True, None)
    if kind in _MEDIA:
        return True, None
    if kind == "tool_use":
        caller = block.get("caller")
        if isinstance(caller, MAPPINGS) and str(caller.get("type", "")).startswith(
            "code_execution"
        ):
            tool_id = block.get("id")
            if isinstance(tool_id, str):
                code_execution_ids.add(tool_id)
            return False, _CODE_EXECUTION
        return True, None
    if kind == "tool_result":
        tool_id = block.get("tool_use_id")
        if isinstance(tool_id, str) and tool_id in code_execution_ids:
            return False, _CODE_EXECUTION
        return True, None
    if isinstance(kind, str) and kind in _NEVER_MARKED:
        return False, _NEVER_MARKED[kind]
    # Server-tool results, search results and unknown kinds pass through untouched.
    return False, None


def _nested_markers(
    content: list[Any], index: int, outer_problem: str | None, markers: list[CallerMarker]
) -> None:
    for sub, item in enumerate(content):
        value = _marker(item)
        if value is None:
            continue
        problem = outer_problem
        if problem is None and item.get("type") == "text" and is_blank(item.get("text")):
            problem = _EMPTY_TEXT
        markers.append(CallerMarker(index, sub, value, problem))


class PayloadEditor:
    """Copy-on-write edits of a request: the caller's objects are never mutated.

    Each edit copies (shallowly, once) the containers on the path to what it changes;
    everything else is shared with the caller's request.
    """

    __slots__ = ("_original", "_root", "_fresh")

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self._original = payload
        self._root: dict[str, Any] | None = None
        self._fresh: dict[Path, Any] = {}

    @property
    def changed(self) -> bool:
        return self._root is not None

    @property
    def current(self) -> Mapping[str, Any]:
        """The request as edited so far (the caller's object while nothing changed)."""
        return self._original if self._root is None else self._root

    def result(self) -> dict[str, Any]:
        if self._root is not None:
            return self._root
        return self._original if isinstance(self._original, dict) else dict(self._original)

    def _own(self, path: Path) -> Any:
        """Our own copy of the container at ``path``, swapped into its (own) parent."""
        if not path:
            if self._root is None:
                self._root = dict(self._original)
            return self._root
        owned = self._fresh.get(path)
        if owned is not None:
            return owned
        parent = self._own(path[:-1])
        child = parent[path[-1]]
        owned = dict(child) if isinstance(child, MAPPINGS) else list(child)
        parent[path[-1]] = owned
        self._fresh[path] = owned
        return owned

    def block(self, path: Path) -> dict[str, Any]:
        """Our own copy of the block at ``path``; a string system or content becomes a
        list holding one text block first."""
        holder = self._own(path[:-2])
        key = path[-2]
        if isinstance(holder[key], str):
            text_block: dict[str, Any] = {"type": "text", "text": holder[key]}
            holder[key] = [text_block]
            self._fresh[path[:-1]] = holder[key]
            self._fresh[path] = text_block
            return text_block
        owned: dict[str, Any] = self._own(path)
        return owned

    def set_marker(self, path: Path, value: Any) -> None:
        if path == ("cache_control",):
            self._own(())["cache_control"] = value
        else:
            self.block(path)["cache_control"] = value

    def remove_marker(self, path: Path) -> None:
        if path == ("cache_control",):
            del self._own(())["cache_control"]
        else:
            del self.block(path)["cache_control"]

    def replace(self, path: Path, value: Any) -> None:
        """Put ``value`` (a new object of ours) at ``path``."""
        parent = self._own(path[:-1])
        parent[path[-1]] = value
        size = len(path)
        for stale in [p for p in self._fresh if p[:size] == path]:
            del self._fresh[stale]
        if isinstance(value, list | dict):
            self._fresh[path] = value

    def remove(self, key: str) -> None:
        """Drop a top-level field."""
        del self._own(())[key]
