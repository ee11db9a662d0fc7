"""A request's messages in one shape, and what each part weighs for each provider.

Messages come as LangChain messages, ``(role, content)`` pairs, bare strings (a user
turn) or dicts in Anthropic's or OpenAI's shape; they become :class:`Turn` values
holding Anthropic-style content blocks, which both the estimate and Anthropic's
counting endpoint take.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON of ``value`` without ``cache_control`` keys."""
    return _ENCODER.encode(_without_cache_control(value))


def _without_cache_control(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list | tuple):
        return [_without_cache_control(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Overheads:
    """What a provider adds around the text of a request, in tokens, and how its
    messages carry what they hold.

    ``message`` per message (the role marker), ``request`` once (the turn that starts
    the reply), ``name`` per message that carries a ``name`` (``None`` when the
    provider's messages carry none; a tool result's is never sent), ``image`` per image,
    ``document`` per PDF or URL document, ``tool`` per tool definition (beside its
    JSON), ``tool_call`` per tool call (beside its name and arguments), ``tool_result``
    per result (beside its content), ``redacted_thinking`` per redacted thinking block.
    ``system_is_message``: a system prompt is a message (with its overhead), not a
    field of the request. ``arguments_as_text``: a tool call's arguments travel as a
    JSON string (OpenAI's, whose quotes are then escaped), not as an object.
    ``merges_turns``: consecutive messages of one role are one message (Anthropic's,
    where a tool result is a user message: ChatAnthropic merges them). ``sent_tool``:
    a tool definition as the provider's client sends it, when that is not
    :func:`tool_definition`.
    """

    message: int
    request: int
    name: int | None
    image: int
    document: int
    tool: int
    tool_call: int
    tool_result: int
    redacted_thinking: int
    system_is_message: bool
    arguments_as_text: bool = False
    merges_turns: bool = False
    sent_tool: Callable[[Any], Any] | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """One message: its role (``user``, ``assistant``, ``system`` or ``tool``), its
    content blocks, and its ``name`` when it has one."""

    role: str
    blocks: tuple[Mapping[str, Any], ...]
    name: str | None = None


def _blocks(content: Any) -> tuple[Mapping[str, Any], ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return ({"type": "text", "text": content},) if content else ()
    if isinstance(content, Mapping):
        return (content,)
    if isinstance(content, Iterable):
        return tuple(
            {"type": "text", "text": item} if isinstance(item, str) else item
            for item in content
            if isinstance(item, str | Mapping)
        )
    return ({"type": "text", "text": str(content)},)


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _tool_calls(calls: Any) -> list[Mapping[str, Any]]:
    blocks: list[Mapping[str, Any]] = []
    for call in calls or ():
        if not isinstance(call, Mapping):
            continue
        function = call.get("function")
        if isinstance(function, Mapping):  # OpenAI's shape
            name, args = function.get("name", ""), _arguments(function.get("arguments"))
        else:  # LangChain's
            name, args = call.get("name", ""), call.get("args", call.get("input", {}))
        blocks.append(
            {"type": "tool_use", "id": call.get("id") or "", "name": name, "input": args or {}}
        )
    return blocks


def to_turn(message: Any) -> Turn:
    """One message in any accepted shape as a :class:`Turn`; ``TypeError`` otherwise."""
    if isinstance(message, str):
        return Turn("user", _blocks(message))
    if isinstance(message, tuple) and len(message) == 2:
        role = _ROLES.get(str(message[0]), str(message[0]))
        return Turn(role, _blocks(message[1]))
    if isinstance(message, Mapping):
        role = str(message.get("role", "user"))
        role = "system" if role == "developer" else role
        blocks = list(_blocks(message.get("content")))
        blocks.extend(_tool_calls(message.get("tool_calls")))
        if role == "tool":
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": message.get("tool_call_id", ""),
                    "content": blocks,
                }
            ]
        name = message.get("name")
        return Turn(role, tuple(blocks), name if isinstance(name, str) else None)
    kind = getattr(message, "type", None)
    if isinstance(kind, str) and hasattr(message, "content"):  # a LangChain message
        role = _ROLES.get(kind, "user")
        blocks = list(_blocks(message.content))
        blocks.extend(_tool_calls(getattr(message, "tool_calls", None)))
        if role == "tool":
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": getattr(message, "tool_call_id", ""),
                    "content": blocks,
                }
            ]
        name = getattr(message, "name", None)
        return Turn(role, tuple(blocks), name if isinstance(name, str) else None)
    raise TypeError(f"cannot count a message of type {type(message).__name__}")


def request_tokens(
    turns: Iterable[Turn],
    tools: Iterable[Any],
    overheads: Overheads,
    text_tokens: Callable[[str], int],
) -> int:
    """The input tokens of a request: its tools, messages and the provider's overheads."""
    total = overheads.request
    sent_tool = overheads.sent_tool or tool_definition
    for tool in tools:
        total += text_tokens(canonical_json(sent_tool(tool))) + overheads.tool
    previous = None
    for turn in turns:
        if turn.role != "system" or overheads.system_is_message:
            role = _anthropic_role(turn.role) if overheads.merges_turns else None
            if role is None or role != previous:
                total += overheads.message
            previous = role
        if turn.name and overheads.name is not None and turn.role != "tool":
            total += overheads.name + text_tokens(turn.name)
        total += sum(block_tokens(block, overheads, text_tokens) for block in turn.blocks)
    return total


def tool_definition(tool: Any) -> Any:
    """What a provider counts of a tool: OpenAI's ``function`` object without its
    ``{"type": "function"}`` wrapper, which has the same words as Anthropic's shape
    (``parameters`` and ``input_schema`` are a word each)."""
    if not isinstance(tool, Mapping) and tool is not None:
        # A LangChain tool or a function: LangChain's own conversion, when it can.
        try:
            from langchain_core.utils.function_calling import convert_to_openai_tool

            tool = convert_to_openai_tool(tool)
        except (ImportError, TypeError, ValueError):
            return repr(tool)
    if isinstance(tool, Mapping) and tool.get("type") == "function":
        function = tool.get("function")
        if isinstance(function, Mapping):
            return function
    return tool


def ollama_tool(tool: Any) -> Any:
    """A tool definition as the ``ollama`` client sends it: its ``Tool`` model keeps a
    JSON schema's types, descriptions, enums, items and required properties, and drops
    the rest (defaults, titles, bounds...)."""
    definition = tool_definition(tool)
    try:
        from ollama import Tool
        from pydantic import ValidationError
    except ImportError:  # not installed: what ChatOllama would be given
        return definition
    try:
        sent = Tool.model_validate({"type": "function", "function": definition})
    except ValidationError:
        return definition
    return sent.model_dump(exclude_none=True, by_alias=True).get("function", definition)


def block_tokens(
    block: Mapping[str, Any], overheads: Overheads, text_tokens: Callable[[str], int]
) -> int:
    """The tokens of one content block."""
    kind = block.get("type")
    if kind == "text":
        return text_tokens(str(block.get("text", "")))
    if kind in ("image", "image_url"):
        return overheads.image
    if kind == "document":
        return _document_tokens(block, overheads, text_tokens)
    if kind == "tool_use":
        arguments = block.get("input", {})
        if overheads.arguments_as_text and not isinstance(arguments, str):
            # As LangChain's ChatOpenAI serialises them.
            arguments = json.dumps(arguments, ensure_ascii=False)
        shown = {"name": block.get("name", ""), "input": arguments}
        return text_tokens(canonical_json(shown)) + overheads.tool_call
    if kind == "tool_result":
        content = _blocks(block.get("content"))
        inner = sum(block_tokens(b, overheads, text_tokens) for b in content)
        return inner + overheads.tool_result
    if kind == "thinking":
        return text_tokens(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return overheads.redacted_thinking
    return text_tokens(canonical_json(block))


def _document_tokens(
    block: Mapping[str, Any], overheads: Overheads, text_tokens: Callable[[str], int]
) -> int:
    source = block.get("source")
    extra = text_tokens(str(block.get("title") or "")) + text_tokens(
        str(block.get("context") or "")
    )
    if isinstance(source, Mapping):
        if source.get("type") == "text":
            return text_tokens(str(source.get("data", ""))) + extra
        if source.get("type") == "content":
            inner = _blocks(source.get("content"))
            return sum(block_tokens(b, overheads, text_tokens) for b in inner) + extra
    return overheads.document + extra


def _anthropic_role(role: str) -> str:
    return "assistant" if role == "assistant" else "user"


def anthropic_request(
    turns: Iterable[Turn], tools: Iterable[Any]
) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    """Messages, system blocks and tools as Anthropic's API takes them, as ChatAnthropic
    sends them: tool turns become user turns holding their results, consecutive turns
    of one role are one message, and tools are in Anthropic's shape."""
    messages: list[dict[str, Any]] = []
    system: list[Any] = []
    for turn in turns:
        if turn.role == "system":
            system.extend(turn.blocks)
            continue
        role = _anthropic_role(turn.role)
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(turn.blocks)
        else:
            messages.append({"role": role, "content": list(turn.blocks)})
    return messages, system, [_anthropic_tool(tool) for tool in tools]


def _anthropic_tool(tool: Any) -> Any:
    definition = tool_definition(tool)
    if not isinstance(definition, Mapping) or "parameters" not in definition:
        return definition  # Anthropic's shape already, or a server tool
    shaped = {"name": definition.get("name", ""), "input_schema": definition["parameters"]}
    if definition.get("description"):
        shaped["description"] = definition["description"]
    return shaped
