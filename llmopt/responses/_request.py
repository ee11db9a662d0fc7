"""The canonical form of a request: what decides its answer, and nothing else.

Two requests get the same :attr:`CanonicalRequest.key` exactly when they ask the same
model the same thing: the provider and model, every message (role, text, images, tool
calls and results), the tools, and the parameters that change an answer (``ANSWER_PARAMS``:
temperature, max tokens, stop sequences, the output format, the tool choice...). What
does not change the answer is left out: prompt-cache markers (``cache_control``, so
prompt caching and the response cache never affect each other), message ids, streaming,
timeouts, retries, metadata, and the order of keys in JSON objects.

A semantic match may differ only in the wording of the last human message: the
:attr:`CanonicalRequest.context_key` covers everything else (system prompt, earlier
turns, tools, parameters), and :attr:`CanonicalRequest.question` is that message's text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

ANSWER_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "num_predict",
        "stop",
        "stop_sequences",
        "response_format",
        "tool_choice",
        "parallel_tool_calls",
        "seed",
        "thinking",
        "reasoning_effort",
        "reasoning",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "n",
        "format",
        "output_config",
    }
)
_DROPPED_BLOCK_KEYS = frozenset({"cache_control", "id", "index"})


@dataclass(frozen=True, slots=True)
class CanonicalRequest:
    """A request reduced to what decides its answer; see the module docstring."""

    key: str
    context_key: str
    question: str
    temperature: float | None


def canonical_request(
    messages: Sequence[BaseMessage],
    *,
    provider: str,
    model: str,
    params: Mapping[str, Any] | None = None,
    tools: Sequence[Any] | None = None,
) -> CanonicalRequest:
    """The canonical form of a call of ``model`` with ``messages``, the call's keyword
    ``params`` (only :data:`ANSWER_PARAMS` count) and ``tools`` (any shape LangChain's
    ``bind_tools`` takes)."""
    params = dict(params or {})
    tools = list(tools if tools is not None else params.pop("tools", None) or [])
    kept = {k: _plain(v) for k, v in sorted(params.items()) if k in ANSWER_PARAMS and v is not None}
    shown = [_message(m) for m in messages]
    head = {
        "provider": provider,
        "model": model,
        "params": kept,
        "tools": [_tool(t) for t in tools],
    }
    last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    question = _text(messages[last_human].content) if last_human >= 0 else ""
    context = dict(head, messages=[m if i != last_human else None for i, m in enumerate(shown)])
    temperature = kept.get("temperature")
    return CanonicalRequest(
        key=_digest(dict(head, messages=shown)),
        context_key=_digest(context),
        question=question,
        temperature=float(temperature) if isinstance(temperature, int | float) else None,
    )


def _message(message: BaseMessage) -> dict[str, Any]:
    shown: dict[str, Any] = {"role": message.type, "content": _content(message.content)}
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls:
        shown["tool_calls"] = [{"name": c["name"], "args": _plain(c["args"])} for c in tool_calls]
    tool_call_id = getattr(message, "tool_call_id", None)
    if tool_call_id:
        shown["tool_call_id"] = tool_call_id
    return shown


def _content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return [
            {k: _plain(v) for k, v in sorted(b.items()) if k not in _DROPPED_BLOCK_KEYS}
            if isinstance(b, Mapping)
            else _plain(b)
            for b in content
        ]
    return _plain(content)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b if isinstance(b, str) else str(b.get("text", ""))
            for b in content
            if isinstance(b, str) or (isinstance(b, Mapping) and b.get("type") == "text")
        )
    return str(content)


def _tool(tool: Any) -> Any:
    try:
        return _plain(convert_to_openai_tool(tool))
    except Exception:  # a provider-specific shape (Anthropic's input_schema): as it is
        return _plain(tool)


def _plain(value: Any) -> Any:
    """``value`` as JSON data, whatever object it came as (pydantic models, tuples)."""
    return json.loads(json.dumps(value, sort_keys=True, default=_fallback))


def _fallback(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    if isinstance(value, type):
        schema = getattr(value, "model_json_schema", None)
        return schema() if callable(schema) else value.__qualname__
    return repr(value)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
