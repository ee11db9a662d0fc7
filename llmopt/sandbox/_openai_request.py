"""Turn a Chat Completions request body into a :class:`ChatRequest`, or the 400 OpenAI sends.

Checks run in the order of the fields (model, messages, tools, tool_choice,
response_format, the limits, streaming), then the cross-field rules (a ``tool`` message
answers a preceding assistant's ``tool_calls``, every call gets its answer, the word
"json" with ``json_object``). Unknown top-level fields are accepted and ignored, as
clients send many (``user``, ``metadata``, ``seed``, ``service_tier``...). The model must
be one OpenAI's price table knows (dated snapshots included), else 404
``model_not_found``: the same policy as the Anthropic side, which only knows the Claude
models llmopt prices.

A :class:`ChatRequest` converts to the Messages request the reply generator takes
(:meth:`ChatRequest.as_message_request`), so replies are made exactly as on the Anthropic
side: deterministic, with a tool call when ``tool_choice`` forces one or the last user
text says ``call <name>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmopt.providers import find_openai_model
from llmopt.sandbox import _errors as msg
from llmopt.sandbox._errors import ApiError, openai_invalid
from llmopt.sandbox._validation import Block, MessageRequest, Turn

ROLES = ("system", "developer", "user", "assistant", "tool")
NO_LIMIT = 1_000_000
"""The output limit of a request that sets none (the replies are far shorter)."""
JSON_OBJECT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}
"""What a ``json_object`` reply holds: some JSON object, this one in the sandbox."""
MAX_STOP_SEQUENCES = 4
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_USER_PARTS = ("text", "image_url", "input_audio", "file")
_CHOICES = {
    "role": ROLES,
    "response_format.type": ("text", "json_object", "json_schema"),
    "tool_choice": ("none", "auto", "required"),
    "prompt_cache_retention": ("in_memory", "24h"),
}

Retention = Literal["in_memory", "24h"]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A valid Chat Completions request, as sent (messages, tools) and normalized.

    ``tool_choice`` is ``none``/``auto``/``required`` or the name of a forced function
    (``{"function": name}``); ``output_schema`` is the JSON schema a structured reply
    satisfies (``json_object``: :data:`JSON_OBJECT_SCHEMA`). ``max_tokens`` is
    ``max_completion_tokens``, else ``max_tokens``, else ``None``.
    """

    model: str
    messages: tuple[Block, ...]
    tools: tuple[Block, ...]
    tool_choice: str | Mapping[str, str]
    response_format: Block | None
    output_schema: Block | None
    max_tokens: int | None
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool
    prompt_cache_key: str | None
    cache_retention: Retention

    @property
    def last_user_text(self) -> str:
        """The text of the last ``user`` message (empty when there is none)."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                return content_text(message.get("content"))
        return ""

    def as_message_request(self) -> MessageRequest:
        """The same conversation as a Messages request, for the reply generator."""
        return MessageRequest(
            model=self.model,
            max_tokens=self.max_tokens or NO_LIMIT,
            system=tuple(
                {"type": "text", "text": content_text(m.get("content"))}
                for m in self.messages
                if m["role"] in ("system", "developer")
            ),
            messages=conversation_turns(self.messages),
            tools=tuple(anthropic_tool(t["function"]) for t in self.tools),
            tool_choice=_anthropic_tool_choice(self.tool_choice) if self.tools else None,
            thinking=None,
            stop_sequences=self.stop,
            stream=self.stream,
            automatic_cache_ttl=None,
            output_schema=self.output_schema,
        )


def content_text(content: Any) -> str:
    """The text of a message's content: the string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") == "text"
        )
    return ""


def anthropic_tool(function: Mapping[str, Any]) -> Block:
    """A chat ``function`` definition as a Messages tool (for the reply generator)."""
    schema = function.get("parameters")
    return {
        "name": function["name"],
        "description": function.get("description", ""),
        "input_schema": schema if isinstance(schema, Mapping) else {"type": "object"},
    }


def tool_arguments(arguments: Any) -> Any:
    """Tool-call arguments as a value: a JSON string parsed (left as is if not JSON)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments


def conversation_turns(messages: Sequence[Block]) -> tuple[Turn, ...]:
    """Chat messages (OpenAI's or Ollama's) as Messages turns: system prompts left out,
    tool calls as ``tool_use`` blocks, a run of tool messages as one user turn of
    ``tool_result`` blocks."""
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role in ("system", "developer"):
            continue
        if role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": str(message.get("tool_call_id") or message.get("tool_name") or ""),
                "content": content_text(message.get("content")),
            }
            if turns and turns[-1].role == "user" and _is_tool_turn(turns[-1]):
                turns[-1] = Turn("user", (*turns[-1].blocks, result))
            else:
                turns.append(Turn("user", (result,)))
            continue
        blocks: list[Block] = []
        content = message.get("content")
        if isinstance(content, str):
            if content:
                blocks.append({"type": "text", "text": content})
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "text":
                    blocks.append({"type": "text", "text": str(part.get("text", ""))})
                else:
                    blocks.append({"type": "image", "part": part})
        for image in message.get("images") or ():
            blocks.append({"type": "image", "data": image})
        for number, call in enumerate(message.get("tool_calls") or ()):
            function = call.get("function", {})
            blocks.append(
                {
                    "type": "tool_use",
                    "id": str(call.get("id") or f"call_{index}_{number}"),
                    "name": str(function.get("name", "")),
                    "input": tool_arguments(function.get("arguments", {})),
                }
            )
        turns.append(Turn("assistant" if role == "assistant" else "user", tuple(blocks)))
    return tuple(turns)


def _is_tool_turn(turn: Turn) -> bool:
    return bool(turn.blocks) and all(b.get("type") == "tool_result" for b in turn.blocks)


def _anthropic_tool_choice(choice: str | Mapping[str, str]) -> Block:
    if isinstance(choice, Mapping):
        return {"type": "tool", "name": choice["function"]}
    return {"type": {"required": "any"}.get(choice, choice)}


def parse_chat_request(body: object) -> ChatRequest:
    """Validate a Chat Completions body. Raises :class:`ApiError` (400, 404) as OpenAI would."""
    request = _object(body, "body")
    model = _string(_require(request, "model"), "model")
    messages = _messages(_require(request, "messages"))
    tools = _tools(request.get("tools"))
    tool_choice = _tool_choice(request.get("tool_choice"), tools)
    response_format, output_schema = _response_format(request.get("response_format"))
    max_tokens = _limit(request, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _limit(request, "max_tokens")
    stop = _stop(request.get("stop"))
    stream = _optional(request, "stream", bool, "a boolean") or False
    include_usage = _stream_options(request.get("stream_options"), stream)
    n = _optional(request, "n", int, "an integer")
    if n is not None and n != 1:
        raise openai_invalid(msg.OPENAI_N_UNSUPPORTED, param="n", code="unsupported_value")
    _number(request, "temperature", 0, 2)
    _number(request, "top_p", 0, 1)
    cache_key = _optional(request, "prompt_cache_key", str, "a string")
    retention = request.get("prompt_cache_retention") or "in_memory"
    _one_of(retention, "prompt_cache_retention")
    _check_tool_messages(messages)
    wants_json = response_format is not None and response_format["type"] == "json_object"
    if wants_json and not any("json" in content_text(m.get("content")).lower() for m in messages):
        raise openai_invalid(msg.OPENAI_JSON_WORD_MISSING, param="messages")
    if find_openai_model(model) is None:
        raise ApiError(
            "not_found_error",
            msg.OPENAI_MODEL_NOT_FOUND.format(model=model),
            code="model_not_found",
        )
    return ChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        output_schema=output_schema,
        max_tokens=max_tokens,
        stop=stop,
        stream=stream,
        include_usage=include_usage,
        prompt_cache_key=cache_key,
        cache_retention="24h" if retention == "24h" else "in_memory",
    )


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _wrong_type(param: str, expected: str, value: object) -> ApiError:
    return openai_invalid(
        msg.OPENAI_WRONG_TYPE,
        param=param,
        code="invalid_type",
        expected=expected,
        got=_type_name(value),
    )


def _require(obj: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    if obj.get(key) is None:
        param = f"{prefix}.{key}" if prefix else key
        raise openai_invalid(msg.OPENAI_MISSING, param=param, code="missing_required_parameter")
    return obj[key]


def _object(value: object, param: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _wrong_type(param, "an object", value)
    return value


def _string(value: object, param: str) -> str:
    if not isinstance(value, str):
        raise _wrong_type(param, "a string", value)
    return value


def _optional(request: Mapping[str, Any], key: str, kind: type, expected: str) -> Any:
    value = request.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _wrong_type(key, expected, value)
    return value


def _one_of(value: object, param: str, *, field: str | None = None) -> None:
    choices = _CHOICES[field or param]
    if value not in choices:
        listed = ", ".join(f"'{c}'" for c in choices[:-1]) + f", and '{choices[-1]}'"
        raise openai_invalid(
            msg.OPENAI_WRONG_VALUE, param=param, code="invalid_value", value=value, choices=listed
        )


def _limit(request: Mapping[str, Any], key: str) -> int | None:
    value = _optional(request, key, int, "an integer")
    if value is not None and value < 1:
        raise openai_invalid(
            msg.OPENAI_BELOW_MIN,
            param=key,
            code="integer_below_min_value",
            kind="integer",
            limit=1,
            value=value,
        )
    return int(value) if value is not None else None


def _number(request: Mapping[str, Any], key: str, low: float, high: float) -> None:
    value = request.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type(key, "a decimal", value)
    if value < low:
        raise openai_invalid(
            msg.OPENAI_BELOW_MIN,
            param=key,
            code="decimal_below_min_value",
            kind="decimal",
            limit=low,
            value=value,
        )
    if value > high:
        raise openai_invalid(
            msg.OPENAI_ABOVE_MAX,
            param=key,
            code="decimal_above_max_value",
            kind="decimal",
            limit=high,
            value=value,
        )


def _messages(value: object) -> tuple[Block, ...]:
    if not isinstance(value, list):
        raise _wrong_type("messages", "an array of objects", value)
    if not value:
        raise openai_invalid(msg.OPENAI_EMPTY_ARRAY, param="messages", code="empty_array")
    return tuple(_message(m, f"messages[{i}]") for i, m in enumerate(value))


def _message(value: object, path: str) -> Block:
    message = _object(value, path)
    role = _require(message, "role", path)
    _one_of(role, f"{path}.role", field="role")
    content = message.get("content")
    if role == "assistant":
        calls = message.get("tool_calls")
        if content is None and not calls:
            raise openai_invalid(
                msg.OPENAI_MISSING, param=f"{path}.content", code="missing_required_parameter"
            )
        if calls is not None:
            _tool_calls(calls, f"{path}.tool_calls")
    else:
        content = _require(message, "content", path)
    if content is not None:
        _content(content, f"{path}.content", _USER_PARTS if role == "user" else ("text",))
    if role == "tool":
        _string(_require(message, "tool_call_id", path), f"{path}.tool_call_id")
    name = message.get("name")
    if name is not None:
        _string(name, f"{path}.name")
    return message


def _content(content: object, path: str, parts: tuple[str, ...]) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _wrong_type(path, "one of a string or array of objects", content)
    for index, part in enumerate(content):
        where = f"{path}[{index}]"
        kind = _require(_object(part, where), "type", where)
        if kind not in parts:
            listed = ", ".join(f"'{p}'" for p in parts)
            raise openai_invalid(
                msg.OPENAI_WRONG_VALUE,
                param=f"{where}.type",
                code="invalid_value",
                value=kind,
                choices=listed,
            )
        if kind == "text":
            _string(_require(part, "text", where), f"{where}.text")


def _tool_calls(value: object, path: str) -> None:
    if not isinstance(value, list):
        raise _wrong_type(path, "an array of objects", value)
    for index, call in enumerate(value):
        where = f"{path}[{index}]"
        _string(_require(_object(call, where), "id", where), f"{where}.id")
        function = _object(_require(call, "function", where), f"{where}.function")
        _string(_require(function, "name", f"{where}.function"), f"{where}.function.name")
        arguments = _require(function, "arguments", f"{where}.function")
        _string(arguments, f"{where}.function.arguments")


def _tools(value: object) -> tuple[Block, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _wrong_type("tools", "an array of objects", value)
    names: set[str] = set()
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        kind = _require(_object(tool, where), "type", where)
        if kind != "function":
            raise openai_invalid(
                msg.OPENAI_WRONG_VALUE,
                param=f"{where}.type",
                code="invalid_value",
                value=kind,
                choices="'function'",
            )
        function = _object(_require(tool, "function", where), f"{where}.function")
        name = _string(_require(function, "name", f"{where}.function"), f"{where}.function.name")
        if not _TOOL_NAME.match(name):
            raise openai_invalid(
                msg.OPENAI_BAD_TOOL_NAME, param=f"{where}.function.name", code="invalid_value"
            )
        if name in names:
            raise openai_invalid(msg.OPENAI_DUPLICATE_TOOL, param="tools", name=name)
        names.add(name)
        parameters = function.get("parameters")
        if parameters is not None:
            _object(parameters, f"{where}.function.parameters")
    return tuple(value)


def _tool_choice(value: object, tools: tuple[Block, ...]) -> str | Mapping[str, str]:
    if value is None:
        return "auto" if tools else "none"
    if not tools:
        raise openai_invalid(msg.OPENAI_TOOL_CHOICE_WITHOUT_TOOLS, param="tool_choice")
    if isinstance(value, str):
        _one_of(value, "tool_choice")
        return value
    choice = _object(value, "tool_choice")
    if choice.get("type") == "allowed_tools":
        allowed = _object(_require(choice, "allowed_tools", "tool_choice"), "tool_choice")
        mode = allowed.get("mode", "auto")
        _one_of(mode, "tool_choice.allowed_tools.mode", field="tool_choice")
        return str(mode)
    function = _object(_require(choice, "function", "tool_choice"), "tool_choice.function")
    name = _string(_require(function, "name", "tool_choice.function"), "tool_choice.function.name")
    if name not in {t["function"]["name"] for t in tools}:
        raise openai_invalid(msg.OPENAI_TOOL_CHOICE_UNKNOWN, param="tool_choice", name=name)
    return {"function": name}


def _response_format(value: object) -> tuple[Block | None, Block | None]:
    if value is None:
        return None, None
    response_format = _object(value, "response_format")
    kind = _require(response_format, "type", "response_format")
    _one_of(kind, "response_format.type")
    if kind == "text":
        return response_format, None
    if kind == "json_object":
        return response_format, JSON_OBJECT_SCHEMA
    spec = _object(
        _require(response_format, "json_schema", "response_format"), "response_format.json_schema"
    )
    _string(
        _require(spec, "name", "response_format.json_schema"), "response_format.json_schema.name"
    )
    schema = spec.get("schema")
    if schema is None:
        return response_format, {"type": "object"}
    return response_format, _object(schema, "response_format.json_schema.schema")


def _stop(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _wrong_type("stop", "one of a string or array of strings", value)
    if len(value) > MAX_STOP_SEQUENCES:
        raise openai_invalid(
            msg.OPENAI_ARRAY_TOO_LONG,
            param="stop",
            code="array_above_max_length",
            limit=MAX_STOP_SEQUENCES,
            found=len(value),
        )
    return tuple(value)


def _stream_options(value: object, stream: bool) -> bool:
    if value is None:
        return False
    if not stream:
        raise openai_invalid(msg.OPENAI_STREAM_OPTIONS_WITHOUT_STREAM, param="stream_options")
    options = _object(value, "stream_options")
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        raise _wrong_type("stream_options.include_usage", "a boolean", include)
    return include


def _check_tool_messages(messages: tuple[Block, ...]) -> None:
    pending: list[str] = []
    opened_at = -1
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            if message["tool_call_id"] not in pending:
                raise openai_invalid(msg.OPENAI_TOOL_WITHOUT_CALL, param=f"messages.[{index}].role")
            pending.remove(message["tool_call_id"])
            continue
        if pending:
            break
        if role == "assistant" and message.get("tool_calls"):
            pending = [str(call["id"]) for call in message["tool_calls"]]
            opened_at = index
    if pending:
        raise openai_invalid(
            msg.OPENAI_CALLS_WITHOUT_RESULTS,
            param=f"messages.[{opened_at}].role",
            ids=", ".join(pending),
        )
