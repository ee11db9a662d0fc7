"""Turn a Messages request body into a :class:`MessageRequest`, or the 400/404 Anthropic sends.

Checks run in the order of the fields (model, max_tokens, messages, system, tools,
tool_choice, thinking, the rest), then the cross-field rules (``tool_result`` after a
``tool_use``, at most four ``cache_control`` blocks, 1 h markers before 5 m markers),
then whether the model exists (404). Unknown top-level fields are accepted and ignored:
the real API has many (``metadata``, ``top_k``, ``service_tier``...) and clients send them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmopt.providers import ProviderCapabilities
from llmopt.sandbox import _errors as msg
from llmopt.sandbox._errors import ApiError, invalid

MAX_CACHE_BLOCKS = 4
TTL_SECONDS: Mapping[str, int] = {"5m": 300, "1h": 3600}
MESSAGE_BLOCK_TYPES = (
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
)
CACHEABLE_BLOCK_TYPES = frozenset({"text", "image", "document", "tool_use", "tool_result"})
_TOOL_RESULT_CONTENT_TYPES = ("text", "image", "document", "search_result")
_TOOL_CHOICE_TYPES = ("auto", "any", "tool", "none")
_THINKING_TYPES = ("enabled", "disabled", "adaptive")
_MIN_THINKING_BUDGET = 1_024
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")

Role = Literal["user", "assistant"]
Block = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Turn:
    """One message, its content always as a tuple of blocks."""

    role: Role
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class CacheMarker:
    """A ``cache_control`` in prefix order: its block's path (``""`` for the request's
    top-level automatic caching) and its lifetime in seconds."""

    path: str
    ttl_seconds: int


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """A valid Messages (or count_tokens) request, normalized.

    ``max_tokens`` is ``None`` for count_tokens. ``system`` holds text blocks (a string
    system prompt becomes one). ``output_schema`` is the JSON schema of
    ``output_config.format`` when the request asks for JSON output.
    """

    model: str
    max_tokens: int | None
    system: tuple[Block, ...]
    messages: tuple[Turn, ...]
    tools: tuple[Block, ...]
    tool_choice: Block | None
    thinking: Block | None
    stop_sequences: tuple[str, ...]
    stream: bool
    automatic_cache_ttl: int | None
    output_schema: Block | None

    @property
    def last_user_text(self) -> str:
        """The text of the last user message (empty when it has none)."""
        for turn in reversed(self.messages):
            if turn.role == "user":
                return "\n".join(
                    str(b.get("text", "")) for b in turn.blocks if b.get("type") == "text"
                )
        return ""


def parse_message_request(body: object, *, counting: bool = False) -> MessageRequest:
    """Validate a request body; ``counting`` for count_tokens (no ``max_tokens``).

    Raises :class:`ApiError` (400, or 404 for an unknown model) as Anthropic would.
    """
    request = _object(body, "body")
    model = _string(_require(request, "model", ""), "model")
    max_tokens = None if counting else _max_tokens(request)
    markers: dict[str, list[CacheMarker]] = {"tools": [], "system": [], "messages": []}
    messages = _messages(_require(request, "messages", ""), markers["messages"])
    system = _system(request.get("system"), markers["system"])
    tools = _tools(request.get("tools"), markers["tools"])
    tool_choice = _tool_choice(request.get("tool_choice"), tools)
    thinking = _thinking(request.get("thinking"), max_tokens)
    stop_sequences = _stop_sequences(request.get("stop_sequences"))
    stream = request.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise invalid(msg.NOT_A_BOOLEAN, path="stream")
    _temperature(request.get("temperature"))
    automatic = request.get("cache_control")
    automatic_ttl = None if automatic is None else _cache_ttl(automatic, "cache_control")
    ordered = [*markers["tools"], *markers["system"], *markers["messages"]]
    if automatic_ttl is not None:
        ordered.append(CacheMarker("", automatic_ttl))
    _check_markers(ordered)
    _check_tool_results(messages)
    if ProviderCapabilities.detect("anthropic", model).min_cacheable_tokens is None:
        raise ApiError("not_found_error", msg.UNKNOWN_MODEL.format(model=model))
    return MessageRequest(
        model=model,
        max_tokens=max_tokens,
        system=system,
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        thinking=thinking,
        stop_sequences=stop_sequences,
        stream=bool(stream),
        automatic_cache_ttl=automatic_ttl,
        output_schema=_output_schema(request),
    )


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _require(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise invalid(msg.FIELD_REQUIRED, path=_join(path, key))
    return obj[key]


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(msg.NOT_AN_OBJECT, path=path)
    return value


def _list(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise invalid(msg.NOT_A_LIST, path=path)
    return value


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise invalid(msg.NOT_A_STRING, path=path)
    return value


def _integer(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(msg.NOT_AN_INTEGER, path=path)
    return value


def _max_tokens(request: Mapping[str, Any]) -> int:
    value = _integer(_require(request, "max_tokens", ""), "max_tokens")
    if value < 1:
        raise invalid(msg.TOO_SMALL, path="max_tokens", limit=1)
    return value


def _cache_ttl(value: object, path: str) -> int:
    control = _object(value, path)
    kind = _require(control, "type", path)
    if kind != "ephemeral":
        raise invalid(msg.NOT_ONE_OF, path=_join(path, "type"), choices="'ephemeral'")
    ttl = control.get("ttl")
    if ttl is None:
        return TTL_SECONDS["5m"]
    if ttl not in TTL_SECONDS:
        raise invalid(msg.NOT_ONE_OF, path=_join(path, "ttl"), choices="'5m' or '1h'")
    return TTL_SECONDS[ttl]


def _marker(block: Mapping[str, Any], path: str, into: list[CacheMarker]) -> None:
    control = block.get("cache_control")
    if control is not None:
        into.append(CacheMarker(path, _cache_ttl(control, _join(path, "cache_control"))))


def _text_block(block: Mapping[str, Any], path: str, section: str) -> None:
    text = _string(_require(block, "text", path), _join(path, "text"))
    if not text:
        if block.get("cache_control") is not None:
            raise invalid(msg.CACHE_CONTROL_ON_EMPTY_TEXT, path=_join(path, "text"))
        raise invalid(msg.EMPTY_TEXT_BLOCK, section=section)


def _source(block: Mapping[str, Any], path: str, kinds: tuple[str, ...]) -> None:
    source_path = _join(path, "source")
    source = _object(_require(block, "source", path), source_path)
    kind = _require(source, "type", source_path)
    if kind not in kinds:
        raise invalid(msg.UNKNOWN_TAG, path=source_path, tag=kind, choices=_quoted(kinds))


def _quoted(choices: Sequence[str]) -> str:
    return ", ".join(f"'{c}'" for c in choices)


def _content_block(value: object, path: str, markers: list[CacheMarker]) -> Block:
    block = _object(value, path)
    kind = _require(block, "type", path)
    if kind not in MESSAGE_BLOCK_TYPES:
        raise invalid(msg.UNKNOWN_TAG, path=path, tag=kind, choices=_quoted(MESSAGE_BLOCK_TYPES))
    if kind == "text":
        _text_block(block, path, "messages")
    elif kind == "image":
        _source(block, path, ("base64", "url", "file"))
    elif kind == "document":
        _source(block, path, ("base64", "text", "content", "url", "file"))
    elif kind == "tool_use":
        _string(_require(block, "id", path), _join(path, "id"))
        _string(_require(block, "name", path), _join(path, "name"))
        _object(_require(block, "input", path), _join(path, "input"))
    elif kind == "tool_result":
        _tool_result(block, path)
    elif kind == "thinking":
        _string(_require(block, "thinking", path), _join(path, "thinking"))
        _string(_require(block, "signature", path), _join(path, "signature"))
    else:
        _string(_require(block, "data", path), _join(path, "data"))
    if kind not in CACHEABLE_BLOCK_TYPES and "cache_control" in block:
        raise invalid(msg.EXTRA_INPUT, path=f"{path}.{kind}.cache_control")
    _marker(block, path, markers)
    return block


def _tool_result(block: Mapping[str, Any], path: str) -> None:
    _string(_require(block, "tool_use_id", path), _join(path, "tool_use_id"))
    content = block.get("content")
    if content is None or isinstance(content, str):
        return
    for j, item in enumerate(_list(content, _join(path, "content"))):
        item_path = f"{path}.content.{j}"
        kind = _require(_object(item, item_path), "type", item_path)
        if kind not in _TOOL_RESULT_CONTENT_TYPES:
            raise invalid(
                msg.UNKNOWN_TAG,
                path=item_path,
                tag=kind,
                choices=_quoted(_TOOL_RESULT_CONTENT_TYPES),
            )


def _messages(value: object, markers: list[CacheMarker]) -> tuple[Turn, ...]:
    items = _list(value, "messages")
    if not items:
        raise invalid(msg.NO_MESSAGES)
    turns: list[Turn] = []
    for i, item in enumerate(items):
        path = f"messages.{i}"
        message = _object(item, path)
        role = _require(message, "role", path)
        if role not in ("user", "assistant"):
            raise invalid(msg.NOT_ONE_OF, path=f"{path}.role", choices="'user' or 'assistant'")
        content = _require(message, "content", path)
        final_assistant = i == len(items) - 1 and role == "assistant"
        if content in ("", []) and not final_assistant:
            raise invalid(msg.EMPTY_CONTENT, index=i)
        if isinstance(content, str):
            blocks: tuple[Block, ...] = ({"type": "text", "text": content},) if content else ()
        else:
            blocks = tuple(
                _content_block(b, f"{path}.content.{j}", markers)
                for j, b in enumerate(_list(content, f"{path}.content"))
            )
        turns.append(Turn(role, blocks))
    return tuple(turns)


def _system(value: object, markers: list[CacheMarker]) -> tuple[Block, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return ({"type": "text", "text": value},) if value else ()
    if not isinstance(value, list):
        raise invalid(msg.NOT_A_STRING, path="system")
    blocks: list[Block] = []
    for j, item in enumerate(value):
        path = f"system.{j}"
        block = _object(item, path)
        if _require(block, "type", path) != "text":
            raise invalid(msg.NOT_ONE_OF, path=f"{path}.type", choices="'text'")
        _text_block(block, path, "system")
        _marker(block, path, markers)
        blocks.append(block)
    return tuple(blocks)


def _tools(value: object, markers: list[CacheMarker]) -> tuple[Block, ...]:
    if value is None:
        return ()
    tools: list[Block] = []
    names: set[str] = set()
    for k, item in enumerate(_list(value, "tools")):
        path = f"tools.{k}"
        tool = _object(item, path)
        name = _string(_require(tool, "name", path), f"{path}.name")
        kind = tool.get("type")
        if kind in (None, "custom"):
            if not _TOOL_NAME.match(name):
                raise invalid(msg.PATTERN_MISMATCH, path=f"{path}.name", pattern=_TOOL_NAME.pattern)
            schema_path = f"{path}.input_schema"
            schema = _object(_require(tool, "input_schema", path), schema_path)
            if schema.get("type") != "object":
                raise invalid(msg.NOT_ONE_OF, path=f"{schema_path}.type", choices="'object'")
        else:
            _string(kind, f"{path}.type")
        if name in names:
            raise invalid(msg.DUPLICATE_TOOL_NAMES)
        names.add(name)
        _marker(tool, path, markers)
        tools.append(tool)
    return tuple(tools)


def _tool_choice(value: object, tools: tuple[Block, ...]) -> Block | None:
    if value is None:
        return None
    choice = _object(value, "tool_choice")
    kind = _require(choice, "type", "tool_choice")
    if kind not in _TOOL_CHOICE_TYPES:
        raise invalid(
            msg.UNKNOWN_TAG, path="tool_choice", tag=kind, choices=_quoted(_TOOL_CHOICE_TYPES)
        )
    if kind in ("any", "tool") and not tools:
        raise invalid(msg.TOOL_CHOICE_WITHOUT_TOOLS)
    if kind == "tool":
        name = _string(_require(choice, "name", "tool_choice"), "tool_choice.name")
        if name not in {t["name"] for t in tools}:
            raise invalid(msg.TOOL_CHOICE_UNKNOWN_TOOL, name=name)
    return choice


def _thinking(value: object, max_tokens: int | None) -> Block | None:
    if value is None:
        return None
    thinking = _object(value, "thinking")
    kind = _require(thinking, "type", "thinking")
    if kind not in _THINKING_TYPES:
        raise invalid(msg.UNKNOWN_TAG, path="thinking", tag=kind, choices=_quoted(_THINKING_TYPES))
    if kind == "enabled":
        path = "thinking.enabled"
        budget = _integer(_require(thinking, "budget_tokens", path), f"{path}.budget_tokens")
        if budget < _MIN_THINKING_BUDGET:
            raise invalid(msg.TOO_SMALL, path=f"{path}.budget_tokens", limit=_MIN_THINKING_BUDGET)
        if max_tokens is not None and max_tokens <= budget:
            raise invalid(msg.THINKING_BUDGET_TOO_LARGE)
    return None if kind == "disabled" else thinking


def _stop_sequences(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(
        _string(s, f"stop_sequences.{i}") for i, s in enumerate(_list(value, "stop_sequences"))
    )


def _temperature(value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(msg.NOT_A_NUMBER, path="temperature")
    if value < 0:
        raise invalid(msg.TOO_SMALL, path="temperature", limit=0)
    if value > 1:
        raise invalid(msg.TOO_LARGE, path="temperature", limit=1)


def _check_markers(markers: Sequence[CacheMarker]) -> None:
    if len(markers) > MAX_CACHE_BLOCKS:
        raise invalid(msg.TOO_MANY_CACHE_BLOCKS, limit=MAX_CACHE_BLOCKS, found=len(markers))
    seen_short = False
    for marker in markers:
        if marker.ttl_seconds == TTL_SECONDS["5m"]:
            seen_short = True
        elif seen_short:
            raise invalid(msg.TTL_ORDER, path=_join(_join(marker.path, "cache_control"), "ttl"))


def _check_tool_results(turns: Sequence[Turn]) -> None:
    for i, turn in enumerate(turns):
        previous = turns[i - 1] if i > 0 else None
        follows_tool_use = (
            previous is not None
            and previous.role == "assistant"
            and any(b.get("type") == "tool_use" for b in previous.blocks)
        )
        for j, block in enumerate(turn.blocks):
            if block.get("type") == "tool_result" and not follows_tool_use:
                raise invalid(
                    msg.ORPHAN_TOOL_RESULT,
                    path=f"messages.{i}.content.{j}",
                    tool_use_id=block["tool_use_id"],
                )


def _output_schema(request: Mapping[str, Any]) -> Block | None:
    config = request.get("output_config")
    output_format = config.get("format") if isinstance(config, Mapping) else None
    if output_format is None:
        output_format = request.get("output_format")
    if isinstance(output_format, Mapping) and output_format.get("type") == "json_schema":
        schema = output_format.get("schema")
        if isinstance(schema, Mapping):
            return schema
    return None
