"""A Message as the server-sent events Anthropic streams.

The sequence is ``message_start`` (the message with empty content and the input usage),
then per content block ``content_block_start``, ``content_block_delta`` events
(``text_delta`` or ``input_json_delta`` with ``partial_json``) and
``content_block_stop``, one ``message_delta`` (stop reason and cumulative usage), and
``message_stop``. A ``ping`` follows the first ``content_block_start``, as on the real
API. Each event is ``event: <name>`` and ``data: <json>`` lines and a blank line.

:func:`paced` slows any stream down (a fault rule's ``stream_chunk_delay_ms``); the
OpenAI and Ollama stand-ins wrap their own streams with it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

TEXT_CHUNK_WORDS = 3
JSON_CHUNK_CHARS = 16
_PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def sse_event(name: str, data: Mapping[str, Any]) -> bytes:
    """One server-sent event as bytes."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {payload}\n\n".encode()


def paced(
    chunks: Iterable[bytes],
    delay_before: Callable[[int], float],
    pause: Callable[[float], None],
) -> Iterator[bytes]:
    """``chunks``, each after ``pause(delay_before(i))`` (``i`` from 0; the first chunk
    is not delayed by callers that return 0 for it, as ``FaultDecision`` does).

    ``pause`` is the sandbox's wait (``SandboxState.pause``): real time, or the clock
    moved on a ``ManualClock(instant_waits=True)``.
    """
    for index, chunk in enumerate(chunks):
        seconds = delay_before(index)
        if seconds > 0:
            pause(seconds)
        yield chunk


def message_events(message: Mapping[str, Any]) -> Iterator[bytes]:
    """The events that stream ``message`` (a complete Messages response body)."""
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": min(1, usage["output_tokens"])},
    }
    yield sse_event("message_start", {"type": "message_start", "message": start})
    blocks = list(message["content"])
    if not blocks:
        yield _PING
    for index, block in enumerate(blocks):
        yield from _block_events(index, block)
    yield sse_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": message["stop_reason"],
                "stop_sequence": message["stop_sequence"],
            },
            "usage": {
                "input_tokens": usage["input_tokens"],
                "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                "cache_read_input_tokens": usage["cache_read_input_tokens"],
                "output_tokens": usage["output_tokens"],
            },
        },
    )
    yield sse_event("message_stop", {"type": "message_stop"})


def _block_events(index: int, block: Mapping[str, Any]) -> Iterator[bytes]:
    if block["type"] == "tool_use":
        opening: dict[str, Any] = {**block, "input": {}}
        text = json.dumps(block["input"], separators=(",", ":"), ensure_ascii=False)
        pieces = [
            "",
            *(text[i : i + JSON_CHUNK_CHARS] for i in range(0, len(text), JSON_CHUNK_CHARS)),
        ]
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    else:
        opening = {**block, "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in _text_pieces(block["text"])]
    yield sse_event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": opening},
    )
    if index == 0:
        yield _PING
    for delta in deltas:
        yield sse_event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
    yield sse_event("content_block_stop", {"type": "content_block_stop", "index": index})


def _text_pieces(text: str) -> list[str]:
    words = text.split(" ")
    pieces = [
        " ".join(words[i : i + TEXT_CHUNK_WORDS]) for i in range(0, len(words), TEXT_CHUNK_WORDS)
    ]
    # Re-join with the spaces split() took out, so the pieces add up to the text.
    return [p if i == 0 else " " + p for i, p in enumerate(pieces)] or [""]
