"""Turn an Ollama ``/api/chat`` body into an :class:`OllamaChatRequest`, or Ollama's 400/404.

Ollama decodes the body into Go structs, so a field of the wrong type is a 400 with Go's
``cannot unmarshal`` wording; a missing or empty ``model`` is ``model is required``; a model
the sandbox has not "pulled" (``SandboxOptions.ollama_models``; a name without a tag means
``:latest``) is 404 ``model 'x' not found``. ``stream`` absent means streaming. Unknown
fields (``keep_alive``, ``think``, ``logprobs``...) and unknown ``options`` are ignored.
Tools use OpenAI's JSON; tool calls in the history carry ``arguments`` as an object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmopt.sandbox import _errors as msg
from llmopt.sandbox._errors import ApiError, invalid
from llmopt.sandbox._openai_request import (
    JSON_OBJECT_SCHEMA,
    NO_LIMIT,
    anthropic_tool,
    content_text,
    conversation_turns,
)
from llmopt.sandbox._tokens import CHAT_REPLY_OVERHEAD, chat_message_tokens, tool_definition_tokens
from llmopt.sandbox._validation import Block, MessageRequest

ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class OllamaChatRequest:
    """A valid ``/api/chat`` request. ``model`` is the name as sent; ``num_predict`` is
    ``None`` for no limit; ``output_schema`` the schema of ``format`` (``"json"``: some
    object)."""

    model: str
    messages: tuple[Block, ...]
    tools: tuple[Block, ...]
    output_schema: Block | None
    num_predict: int | None
    stop: tuple[str, ...]
    stream: bool

    @property
    def last_user_text(self) -> str:
        """The text of the last ``user`` message (empty when there is none)."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                return content_text(message.get("content"))
        return ""

    @property
    def prompt_tokens(self) -> int:
        """``prompt_eval_count``: tools, messages and the reply's priming."""
        tools = sum(tool_definition_tokens(t.get("function", t)) for t in self.tools)
        messages = sum(chat_message_tokens(m) for m in self.messages)
        return tools + messages + CHAT_REPLY_OVERHEAD

    def as_message_request(self) -> MessageRequest:
        """The same conversation as a Messages request, for the reply generator: Ollama has
        no ``tool_choice``, so a tool is called when the last user text says ``call <name>``."""
        return MessageRequest(
            model=self.model,
            max_tokens=self.num_predict or NO_LIMIT,
            system=tuple(
                {"type": "text", "text": content_text(m.get("content"))}
                for m in self.messages
                if m["role"] == "system"
            ),
            messages=conversation_turns(self.messages),
            tools=tuple(anthropic_tool(t["function"]) for t in self.tools),
            tool_choice=None,
            thinking=None,
            stop_sequences=self.stop,
            stream=self.stream,
            automatic_cache_ttl=None,
            output_schema=self.output_schema,
        )


def full_name(model: str) -> str:
    """``model`` with its tag: ``llama3.1`` is ``llama3.1:latest``."""
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def parse_body(raw: bytes) -> Any:
    """The body as JSON; Ollama's 400 when it is empty or not JSON."""
    if not raw.strip():
        raise invalid(msg.OLLAMA_MISSING_BODY)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise invalid(msg.OLLAMA_BODY_NOT_JSON, detail=error) from None


def parse_ollama_chat(body: object, models: Sequence[str]) -> OllamaChatRequest:
    """Validate a ``/api/chat`` body against the pulled ``models``."""
    request = _typed(body, dict, "ChatRequest", "api.ChatRequest")
    model = request.get("model")
    if model is None or model == "":
        raise invalid(msg.OLLAMA_MODEL_REQUIRED)
    model = _typed(model, str, "ChatRequest.model", "string")
    messages = tuple(
        _message(m)
        for m in _typed(
            request.get("messages") or [], list, "ChatRequest.messages", "[]api.Message"
        )
    )
    tools = tuple(
        _tool(t) for t in _typed(request.get("tools") or [], list, "ChatRequest.tools", "api.Tools")
    )
    output_schema = _format(request.get("format"))
    options = _typed(
        request.get("options") or {}, dict, "ChatRequest.options", "map[string]interface {}"
    )
    num_predict = _option_int(options.get("num_predict"), "num_predict")
    temperature = options.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        raise invalid(
            msg.OLLAMA_BAD_FIELD,
            got=_go_type(temperature),
            field="Options.temperature",
            expected="float32",
        )
    stop = options.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise invalid(
            msg.OLLAMA_BAD_FIELD, got=_go_type(stop), field="Options.stop", expected="[]string"
        )
    stream = request.get("stream")
    if stream is not None:
        _typed(stream, bool, "ChatRequest.stream", "bool")
    if full_name(model) not in {full_name(m) for m in models}:
        raise ApiError("not_found_error", msg.OLLAMA_MODEL_NOT_FOUND.format(model=model))
    return OllamaChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        output_schema=output_schema,
        num_predict=num_predict if num_predict is not None and num_predict > 0 else None,
        stop=tuple(stop),
        stream=stream is not False,
    )


_GO_TYPES = {
    bool: "bool",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _go_type(value: object) -> str:
    return _GO_TYPES.get(type(value), "null")


def _typed(value: Any, kind: type, field: str, expected: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise invalid(msg.OLLAMA_BAD_FIELD, got=_go_type(value), field=field, expected=expected)
    return value


def _message(value: object) -> Block:
    message: Block = _typed(value, dict, "ChatRequest.messages", "api.Message")
    role = message.get("role")
    if role not in ROLES:
        raise invalid(msg.OLLAMA_BAD_ROLE, role=role)
    content = message.get("content", "")
    _typed(content if content is not None else "", str, "Message.messages.content", "string")
    images = message.get("images")
    if images is not None:
        _typed(images, list, "Message.messages.images", "[]api.ImageData")
    for call in _typed(
        message.get("tool_calls") or [], list, "Message.messages.tool_calls", "[]api.ToolCall"
    ):
        function = _typed(
            _typed(call, dict, "Message.messages.tool_calls", "api.ToolCall").get("function"),
            dict,
            "ToolCall.function",
            "api.ToolCallFunction",
        )
        _typed(function.get("name"), str, "ToolCallFunction.name", "string")
        arguments = function.get("arguments", {})
        _typed(
            arguments if arguments is not None else {},
            dict,
            "ToolCallFunction.arguments",
            "api.ToolCallFunctionArguments",
        )
    return message


def _tool(value: object) -> Block:
    tool: Block = _typed(value, dict, "ChatRequest.tools", "api.Tool")
    function = _typed(tool.get("function"), dict, "Tool.function", "api.ToolFunction")
    _typed(function.get("name"), str, "ToolFunction.name", "string")
    parameters = function.get("parameters")
    if parameters is not None:
        _typed(parameters, dict, "ToolFunction.parameters", "api.ToolFunctionParameters")
    return tool


def _format(value: object) -> Block | None:
    if value is None or value == "":
        return None
    if value == "json":
        return JSON_OBJECT_SCHEMA
    if isinstance(value, Mapping):
        return value
    raise invalid(msg.OLLAMA_BAD_FORMAT)


def _option_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(
            msg.OLLAMA_BAD_FIELD, got=_go_type(value), field=f"Options.{name}", expected="int"
        )
    return value
