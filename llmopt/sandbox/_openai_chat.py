"""The Chat Completions endpoint: ``POST /v1/chat/completions``.

A request goes: authenticate (``Authorization: Bearer``) → validate → decide faults → look
the prompt up in OpenAI's automatic cache → wait (latency, held responses) → send the
fault's error, or write the cache, bill at OpenAI's prices, and answer (JSON, or
server-sent ``chat.completion.chunk`` events). Errors wear OpenAI's envelope (the router
renders them by path).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmopt.providers import TokenUsage
from llmopt.sandbox import _errors as msg
from llmopt.sandbox._cache import cache_owner
from llmopt.sandbox._errors import ApiError, new_id
from llmopt.sandbox._openai_cache import EXTENDED_RETENTION_SECONDS, INACTIVITY_SECONDS
from llmopt.sandbox._openai_prompt import build_chat_prompt
from llmopt.sandbox._openai_request import ChatRequest, parse_chat_request
from llmopt.sandbox._openai_streaming import completion_chunks, with_error_tail
from llmopt.sandbox._replies import Reply, compose_reply
from llmopt.sandbox._routing import Request, Response
from llmopt.sandbox._streaming import paced

if TYPE_CHECKING:
    from llmopt.sandbox._state import SandboxState

PROVIDER = "openAI"
SYSTEM_FINGERPRINT = "fp_sandbox"
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def authenticate(request: Request, state: SandboxState) -> str:
    """The request's API key from ``Authorization: Bearer``; 401 when it is missing or,
    with ``api_keys`` configured, not one of them (any non-empty key otherwise)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    if not key:
        raise ApiError("authentication_error", msg.OPENAI_KEY_MISSING)
    accepted = state.options.api_keys
    if accepted is not None and key not in accepted:
        hint = key[:3] + "*" * 8 + key[-4:] if len(key) > 8 else "*" * len(key)
        raise ApiError(
            "authentication_error",
            msg.OPENAI_KEY_INVALID.format(hint=hint),
            code="invalid_api_key",
        )
    return key


def create_chat_completion(request: Request, state: SandboxState) -> Response:
    """``POST /v1/chat/completions``. Every error response is counted in billing, not charged."""
    try:
        return _create(request, state)
    except ApiError:
        state.billing.record_error(_model_named(request))
        raise


def _body(request: Request) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError("invalid_request_error", msg.OPENAI_BODY_NOT_JSON) from None


def _create(request: Request, state: SandboxState) -> Response:
    started = time.monotonic()
    api_key = authenticate(request, state)
    params = parse_chat_request(_body(request))
    prompt = build_chat_prompt(params)
    decision = state.faults.decide(
        request.path,
        params.last_user_text,
        model=params.model,
        input_tokens=lambda: prompt.total_tokens,
    )
    lookup = None
    if decision.error is None:
        lifetime = (
            EXTENDED_RETENTION_SECONDS if params.cache_retention == "24h" else INACTIVITY_SECONDS
        )
        lookup = state.openai_cache.lookup(
            owner=cache_owner(api_key),
            model=params.model,
            prompt=prompt,
            lifetime_seconds=lifetime,
        )
    prompt_tokens = prompt.total_tokens
    state.pause(state.options.latency_ms / 1000 + decision.latency_seconds)
    state.hold.pass_through()
    if decision.error is not None or lookup is None:
        raise decision.error or ApiError("api_error", msg.INTERNAL_ERROR)
    state.openai_cache.commit(lookup)
    reply = compose_reply(params.as_message_request(), state.skills)
    cached = lookup.cached_tokens
    usage = TokenUsage(
        input_tokens=prompt_tokens - cached,
        cache_read_tokens=cached,
        output_tokens=reply.output_tokens,
    )
    state.billing.record_success(params.model, usage, day=state.today(), provider=PROVIDER)
    completion = completion_body(params, reply, prompt_tokens, cached, created=int(state.clock()))
    headers = {
        "x-request-id": request.request_id,
        "openai-processing-ms": str(int((time.monotonic() - started) * 1000)),
    }
    if params.stream:
        events = completion_chunks(completion, include_usage=params.include_usage)
        if decision.slows_streams:
            events = paced(events, decision.chunk_delay_seconds, state.pause)
        headers |= {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        return Response(200, headers, stream=with_error_tail(events))
    return Response.json(200, completion, headers)


def completion_body(
    params: ChatRequest, reply: Reply, prompt_tokens: int, cached_tokens: int, *, created: int
) -> dict[str, Any]:
    """A ``chat.completion`` object for ``reply``, with OpenAI's ``usage``."""
    text = "".join(str(b["text"]) for b in reply.content if b["type"] == "text")
    calls = [
        {
            "id": "call_" + str(b["id"]).removeprefix("toolu_"),
            "type": "function",
            "function": {
                "name": b["name"],
                "arguments": json.dumps(b["input"], separators=(",", ":"), ensure_ascii=False),
            },
        }
        for b in reply.content
        if b["type"] == "tool_use"
    ]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if calls else text,
        "refusal": None,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = calls
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": created,
        "model": params.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _FINISH_REASONS.get(reply.stop_reason, "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": prompt_tokens + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _model_named(request: Request) -> str:
    try:
        body = json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    model = body.get("model") if isinstance(body, Mapping) else None
    return model if isinstance(model, str) else ""
