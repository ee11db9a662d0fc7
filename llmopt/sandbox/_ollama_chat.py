"""Ollama's chat API: ``POST /api/chat`` and ``GET /api/tags``.

No API key, no cost (billed at zero), no prompt cache. ``/api/chat`` streams NDJSON by
default (``stream`` absent = true): one JSON object per line, never a blank line (the
``ollama`` client parses every line), text in pieces of a few words with ``done: false``,
a tool call whole in one line, and a last line with ``done: true``, ``done_reason``
(``stop``, or ``length`` when ``options.num_predict`` cut the reply) and the metrics.
``stream: false`` answers one object. Errors before any output are ``{"error": "..."}``
with their status (400, 404, 429, 500, 503); an error after streaming began is a last line
``{"error": "..."}`` under the 200 already sent.

Durations are nanoseconds, derived from the token counts at fixed speeds
(``PROMPT_EVAL_NS_PER_TOKEN``, ``EVAL_NS_PER_TOKEN``) plus ``LOAD_NS`` and whatever latency
the sandbox added (``latency_ms``, faults), which counts as load time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmopt.providers import TokenUsage
from llmopt.sandbox import _errors as msg
from llmopt.sandbox._errors import ApiError
from llmopt.sandbox._ollama_request import OllamaChatRequest, parse_body, parse_ollama_chat
from llmopt.sandbox._replies import Reply, compose_reply
from llmopt.sandbox._routing import Request, Response
from llmopt.sandbox._streaming import _text_pieces, paced

if TYPE_CHECKING:
    from llmopt.sandbox._state import SandboxState

logger = logging.getLogger("llmopt.sandbox")

PROVIDER = "ollama"
LOAD_NS = 5_000_000
PROMPT_EVAL_NS_PER_TOKEN = 250_000
"""4,000 prompt tokens a second."""
EVAL_NS_PER_TOKEN = 20_000_000
"""50 output tokens a second."""
NDJSON = "application/x-ndjson"


def chat(request: Request, state: SandboxState) -> Response:
    """``POST /api/chat``. Every error response is counted in billing, not charged."""
    model = ""
    try:
        body = parse_body(request.body)
        if isinstance(body, Mapping) and isinstance(body.get("model"), str):
            model = body["model"]
        return _chat(body, request, state)
    except ApiError:
        state.billing.record_error(model)
        raise


def _chat(body: Any, request: Request, state: SandboxState) -> Response:
    params = parse_ollama_chat(body, state.options.ollama_models)
    decision = state.faults.decide(
        request.path,
        params.last_user_text,
        model=params.model,
        input_tokens=lambda: params.prompt_tokens,
    )
    waited = state.options.latency_ms / 1000 + decision.latency_seconds
    state.pause(waited)
    state.hold.pass_through()
    if decision.error is not None:
        raise decision.error
    reply = compose_reply(params.as_message_request(), state.skills)
    prompt_tokens = params.prompt_tokens
    state.billing.record_success(
        params.model,
        TokenUsage(input_tokens=prompt_tokens, output_tokens=reply.output_tokens),
        day=state.today(),
        provider=PROVIDER,
    )
    created_at = _timestamp(state.clock())
    final = {
        "model": params.model,
        "created_at": created_at,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "length" if reply.stop_reason == "max_tokens" else "stop",
        **_metrics(prompt_tokens, reply.output_tokens, waited),
    }
    message = reply_message(reply)
    if not params.stream:
        return Response.json(200, {**final, "message": message})
    lines = _stream_lines(params, message, final, created_at)
    if decision.slows_streams:
        lines = paced(lines, decision.chunk_delay_seconds, state.pause)
    return Response(200, {"content-type": NDJSON}, stream=with_error_line(lines))


def reply_message(reply: Reply) -> dict[str, Any]:
    """The assistant message Ollama sends: text, and tool calls with object arguments."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(str(b["text"]) for b in reply.content if b["type"] == "text"),
    }
    calls = [
        {
            "id": "call_" + str(b["id"]).removeprefix("toolu_")[:8].lower(),
            "function": {"index": index, "name": b["name"], "arguments": b["input"]},
        }
        for index, b in enumerate(b for b in reply.content if b["type"] == "tool_use")
    ]
    if calls:
        message["tool_calls"] = calls
    return message


def _stream_lines(
    params: OllamaChatRequest,
    message: Mapping[str, Any],
    final: Mapping[str, Any],
    created_at: str,
) -> Iterator[bytes]:
    def line(content: str, **extra: Any) -> bytes:
        return _line(
            {
                "model": params.model,
                "created_at": created_at,
                "message": {"role": "assistant", "content": content, **extra},
                "done": False,
            }
        )

    if message["content"]:
        for piece in _text_pieces(message["content"]):
            yield line(piece)
    if "tool_calls" in message:
        yield line("", tool_calls=message["tool_calls"])
    yield _line(final)


def with_error_line(lines: Iterable[bytes]) -> Iterator[bytes]:
    """``lines``, ending in ``{"error": ...}`` if making them fails after the 200 went out."""
    try:
        yield from lines
    except Exception:
        logger.exception("sandbox ollama chat stream failed")
        yield _line({"error": msg.OLLAMA_SERVER_ERROR})


def tags(request: Request, state: SandboxState) -> Response:
    """``GET /api/tags``: the models the sandbox has "pulled"."""
    modified = _timestamp(state.clock())
    return Response.json(
        200, {"models": [_model_entry(m, modified) for m in state.options.ollama_models]}
    )


def _model_entry(name: str, modified_at: str) -> dict[str, Any]:
    family, _, tag = name.partition(":")
    size = tag[:-1] if tag.lower().endswith("b") else ""
    try:
        parameters = float(size)
    except ValueError:
        parameters = 8.0
    family_name = family.rsplit("/", 1)[-1].rstrip("0123456789.") or family
    return {
        "name": name,
        "model": name,
        "modified_at": modified_at,
        "size": int(parameters * 600_000_000),  # about Q4_K_M
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family_name,
            "families": [family_name],
            "parameter_size": f"{parameters:.1f}B",
            "quantization_level": "Q4_K_M",
        },
    }


def _metrics(prompt_tokens: int, output_tokens: int, waited_seconds: float) -> dict[str, int]:
    load = LOAD_NS + int(waited_seconds * 1e9)
    prompt_eval = prompt_tokens * PROMPT_EVAL_NS_PER_TOKEN
    evaluation = max(1, output_tokens) * EVAL_NS_PER_TOKEN
    return {
        "total_duration": load + prompt_eval + evaluation,
        "load_duration": load,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_eval,
        "eval_count": output_tokens,
        "eval_duration": evaluation,
    }


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _line(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
