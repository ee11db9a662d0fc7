"""The Messages endpoints: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

A Messages request goes: authenticate → validate → decide faults (for the body's model)
→ look the prompt up in the cache → wait (latency, held responses) → send the fault's
error, or write the cache, bill, and answer (JSON, or server-sent events paced by the
rules' ``stream_chunk_delay_ms``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmopt.providers import ProviderCapabilities, TokenUsage
from llmopt.sandbox import _errors as msg
from llmopt.sandbox._cache import CacheUsage, cache_owner
from llmopt.sandbox._errors import ApiError, new_id
from llmopt.sandbox._prompt import build_prompt
from llmopt.sandbox._replies import Reply, compose_reply
from llmopt.sandbox._routing import Request, Response
from llmopt.sandbox._streaming import message_events, paced
from llmopt.sandbox._validation import parse_message_request

if TYPE_CHECKING:  # the state holds the batch store, which runs requests through here
    from llmopt.sandbox._state import SandboxState


def authenticate(request: Request, state: SandboxState) -> str:
    """The request's API key; 401 when it is missing or not accepted.

    The key comes in ``x-api-key`` or, as the ``anthropic`` SDK 2.x sends it, in
    ``Authorization: Bearer <key>``.
    """
    key = request.headers.get("x-api-key", "")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not key and scheme.lower() == "bearer":
        key = token.strip()
    if not key:
        raise ApiError("authentication_error", msg.API_KEY_MISSING)
    accepted = state.options.api_keys
    if accepted is not None and key not in accepted:
        raise ApiError("authentication_error", msg.API_KEY_INVALID)
    return key


def create_message(request: Request, state: SandboxState) -> Response:
    """``POST /v1/messages``. Every error response is counted in billing, not charged."""
    try:
        return _create_message(request, state)
    except ApiError:
        state.billing.record_error(_model_named(request))
        raise


def count_tokens(request: Request, state: SandboxState) -> Response:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``, free."""
    authenticate(request, state)
    params = parse_message_request(request.json, counting=True)
    prompt = build_prompt(params)
    decision = state.faults.decide(
        request.path,
        params.last_user_text,
        model=params.model,
        input_tokens=lambda: prompt.total_tokens,
    )
    state.pause(state.options.latency_ms / 1000 + decision.latency_seconds)
    if decision.error is not None:
        raise decision.error
    return Response.json(200, {"input_tokens": prompt.total_tokens})


def _create_message(request: Request, state: SandboxState) -> Response:
    api_key = authenticate(request, state)
    params = parse_message_request(request.json)
    prompt = build_prompt(params)
    decision = state.faults.decide(
        request.path,
        params.last_user_text,
        model=params.model,
        input_tokens=lambda: prompt.total_tokens,
    )
    plan = None
    if decision.error is None:
        minimum = ProviderCapabilities.detect("anthropic", params.model).min_cacheable_tokens
        plan = state.cache.plan(
            api_key=cache_owner(api_key),
            model=params.model,
            prompt=prompt,
            min_tokens=minimum or 0,
        )
    state.pause(state.options.latency_ms / 1000 + decision.latency_seconds)
    state.hold.pass_through()
    if decision.error is not None or plan is None:
        raise decision.error or ApiError("api_error", msg.INTERNAL_ERROR)
    state.cache.commit(plan)
    reply = compose_reply(params, state.skills)
    state.billing.record_success(params.model, billed_usage(plan.usage, reply), day=state.today())
    message = message_body(params.model, reply, plan.usage)
    if params.stream:
        headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        events = message_events(message)
        if decision.slows_streams:
            events = paced(events, decision.chunk_delay_seconds, state.pause)
        return Response(200, headers, stream=events)
    return Response.json(200, message)


def billed_usage(usage: CacheUsage, reply: Reply, *, batch: bool = False) -> TokenUsage:
    """The tokens a reply is billed for: its cache split and its output."""
    return TokenUsage(
        input_tokens=usage.input_tokens,
        cache_write_5m_tokens=usage.write_5m_tokens,
        cache_write_1h_tokens=usage.write_1h_tokens,
        cache_read_tokens=usage.read_tokens,
        output_tokens=reply.output_tokens,
        batch=batch,
    )


def message_body(
    model: str, reply: Reply, usage: CacheUsage, *, service_tier: str = "standard"
) -> dict[str, Any]:
    """A full Message as JSON, with Anthropic's ``usage`` block."""
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": list(reply.content),
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": {
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": usage.write_5m_tokens + usage.write_1h_tokens,
            "cache_read_input_tokens": usage.read_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": usage.write_5m_tokens,
                "ephemeral_1h_input_tokens": usage.write_1h_tokens,
            },
            "output_tokens": reply.output_tokens,
            "service_tier": service_tier,
        },
    }


def _model_named(request: Request) -> str:
    try:
        body = request.json
    except ApiError:
        return ""
    model = body.get("model") if isinstance(body, Mapping) else None
    return model if isinstance(model, str) else ""
