"""A chat completion as the server-sent events OpenAI streams.

Every event is ``data: <chunk>`` and a blank line; all chunks share the completion's id.
The order: a role chunk (``delta.role``, empty content), the content in pieces of a few
words, or per tool call a first fragment (``index``, ``id``, ``type``, ``name``, empty
``arguments``) and then pieces of its arguments, a finish chunk (empty delta and the
``finish_reason``), with ``stream_options.include_usage`` a usage chunk with empty
``choices`` (every other chunk then carries ``"usage": null``), and ``data: [DONE]``.
An error after the stream began is sent as a ``data: {"error": {...}}`` event, which the
SDK raises as ``APIError``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from llmopt.sandbox import _errors as msg
from llmopt.sandbox._streaming import JSON_CHUNK_CHARS, _text_pieces

logger = logging.getLogger("llmopt.sandbox")
DONE = b"data: [DONE]\n\n"


def sse_data(data: Mapping[str, Any]) -> bytes:
    """One ``data:`` event as bytes."""
    return (
        b"data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"
    )


def completion_chunks(completion: Mapping[str, Any], *, include_usage: bool) -> Iterator[bytes]:
    """The events that stream ``completion`` (a complete ``chat.completion`` body)."""
    base = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
        "service_tier": completion["service_tier"],
        "system_fingerprint": completion["system_fingerprint"],
    }
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: Mapping[str, Any], finish: str | None = None) -> bytes:
        entry = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse_data({**base, "choices": [entry], **extra})

    calls = message.get("tool_calls") or []
    yield chunk({"role": "assistant", "content": None if calls else "", "refusal": None})
    if message["content"]:
        for piece in _text_pieces(message["content"]):
            yield chunk({"content": piece})
    for index, call in enumerate(calls):
        function = call["function"]
        opening = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        yield chunk({"tool_calls": [opening]})
        text = function["arguments"]
        for start in range(0, len(text), JSON_CHUNK_CHARS):
            fragment = {
                "index": index,
                "function": {"arguments": text[start : start + JSON_CHUNK_CHARS]},
            }
            yield chunk({"tool_calls": [fragment]})
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield sse_data({**base, "choices": [], "usage": completion["usage"]})
    yield DONE


def with_error_tail(events: Iterable[bytes]) -> Iterator[bytes]:
    """``events``, ending in an ``error`` event (no ``[DONE]``) if making them fails."""
    try:
        yield from events
    except Exception:
        logger.exception("sandbox chat completion stream failed")
        yield sse_data(
            {
                "error": {
                    "message": msg.OPENAI_SERVER_ERROR,
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        )
