"""The response cache in ``OptimizedLLMWrapper``: a stored answer instead of a call.

A wrapper with a store looks its entry's ``configuration.responseCache`` up in the live
document (the watcher's snapshot: no I/O on the call path). With the kill switch engaged,
the store unreadable or the entry not opted in, nothing happens here. Otherwise the
request is looked up before the call (:func:`lookup`); a hit is the answer, with
``response_metadata["llmopt_response_cache"]``, and costs nothing, so it is not counted
in the wrapper's usage (whose cache hit rate is prompt caching's alone). A miss is stored
after the call with the provider's price of the answer (:func:`remember`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from llmopt.errors import LLMOptError
from llmopt.providers import TokenUsage, cost_of

if TYPE_CHECKING:
    from llmopt.config import AIConfigDocument
    from llmopt.responses import CacheLookup, ResponseCacheSettings

    from ._wrapper import OptimizedLLMWrapper

logger = logging.getLogger("llmopt.wrapper")


def generate(
    wrapper: OptimizedLLMWrapper,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
    call: Callable[[], ChatResult],
) -> ChatResult:
    """A stored answer, or ``call()``'s, which is then stored."""
    found = lookup(wrapper, messages, stop, kwargs)
    if found is not None and found.hit is not None:
        return ChatResult(generations=[ChatGeneration(message=found.hit.message)])
    result = call()
    if result.generations:
        remember(wrapper, found, result.generations[0].message)
    return result


async def agenerate(
    wrapper: OptimizedLLMWrapper,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
    call: Callable[[], Awaitable[ChatResult]],
) -> ChatResult:
    """The async :func:`generate`."""
    found = lookup(wrapper, messages, stop, kwargs)
    if found is not None and found.hit is not None:
        return ChatResult(generations=[ChatGeneration(message=found.hit.message)])
    result = await call()
    if result.generations:
        remember(wrapper, found, result.generations[0].message)
    return result


def stream(
    wrapper: OptimizedLLMWrapper,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
    chunks: Callable[[], Iterator[ChatGenerationChunk]],
) -> Iterator[ChatGenerationChunk]:
    """A stored answer as one chunk, or ``chunks()``, whose sum is then stored."""
    found = lookup(wrapper, messages, stop, kwargs)
    if found is not None and found.hit is not None:
        yield ChatGenerationChunk(message=_chunk_of(found.hit.message))
        return
    total: ChatGenerationChunk | None = None
    for chunk in chunks():
        total = chunk if total is None else total + chunk
        yield chunk
    if total is not None:
        remember(wrapper, found, total.message)


async def astream(
    wrapper: OptimizedLLMWrapper,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
    chunks: Callable[[], AsyncIterator[ChatGenerationChunk]],
) -> AsyncIterator[ChatGenerationChunk]:
    """The async :func:`stream`."""
    found = lookup(wrapper, messages, stop, kwargs)
    if found is not None and found.hit is not None:
        yield ChatGenerationChunk(message=_chunk_of(found.hit.message))
        return
    total: ChatGenerationChunk | None = None
    async for chunk in chunks():
        total = chunk if total is None else total + chunk
        yield chunk
    if total is not None:
        remember(wrapper, found, total.message)


def lookup(
    wrapper: OptimizedLLMWrapper,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
) -> CacheLookup | None:
    """The response cache's answer to this call, or ``None`` when it does not apply."""
    store = wrapper.store
    watcher = wrapper.watcher
    if store is None or watcher is None or wrapper.entry_key is None:
        return None
    snapshot = watcher.snapshot
    if not snapshot.available or snapshot.kill_switch_engaged or snapshot.document is None:
        return None
    from llmopt.responses import canonical_request, response_cache_for

    settings = _settings(snapshot.document, wrapper.entry_key)
    if settings is None or not settings.enabled:
        return None
    params = {**_model_params(wrapper.base_model, stop, kwargs), **kwargs}
    if stop is not None:
        params["stop"] = stop
    request = canonical_request(
        messages, provider=wrapper.provider, model=wrapper.model_name, params=params
    )
    try:
        return response_cache_for(store).lookup(
            request, entry_key=wrapper.entry_key, settings=settings
        )
    except Exception:  # a broken cache costs the saving, never the answer
        logger.exception("response cache lookup failed; calling the model")
        return None


# Settings read once per document read (the watcher's snapshot) and entry, not per call.
_read: dict[tuple[int, str], tuple[AIConfigDocument, ResponseCacheSettings | None]] = {}


def _settings(document: AIConfigDocument, entry_key: str) -> ResponseCacheSettings | None:
    known = _read.get((id(document), entry_key))
    if known is not None and known[0] is document:
        return known[1]
    from llmopt.responses import settings_of

    try:
        settings = settings_of(document.entry(entry_key).configuration, key=entry_key)
    except LLMOptError:
        settings = None  # no such entry, or settings the console would refuse: off
    if len(_read) > 256:
        _read.clear()
    _read[(id(document), entry_key)] = (document, settings)
    return settings


def _model_params(model: Any, stop: list[str] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The answer-changing settings the model itself holds (its temperature, maximum
    tokens...), which a call's own keywords override."""
    from llmopt.responses._request import ANSWER_PARAMS

    params = {k: v for k, v in model._identifying_params.items() if k in ANSWER_PARAMS}
    described = model._get_ls_params(stop=stop, **kwargs)
    for name in ("temperature", "max_tokens"):
        value = described.get(f"ls_{name}")
        if value is not None:
            params[name] = value
    return params


def remember(wrapper: OptimizedLLMWrapper, found: CacheLookup | None, message: Any) -> None:
    """Keep ``message``, the model's answer to a call the cache missed."""
    if found is None or found.hit is not None or not found.used or wrapper.store is None:
        return
    usage = getattr(message, "usage_metadata", None)
    cost = None
    if usage:
        priced = cost_of(
            TokenUsage.from_langchain(usage), provider=wrapper.provider, model=wrapper.model_name
        )
        cost = None if priced is None else float(priced.total)
    from llmopt.responses import response_cache_for

    try:
        response_cache_for(wrapper.store).save(
            found, message, model=wrapper.model_name, cost_usd=cost
        )
    except Exception:
        logger.exception("response cache: the answer could not be stored")


def _chunk_of(message: AIMessage) -> AIMessageChunk:
    return AIMessageChunk(
        content=message.content,
        additional_kwargs=dict(message.additional_kwargs),
        response_metadata=dict(message.response_metadata),
        tool_call_chunks=[
            {"name": c["name"], "args": json.dumps(c["args"]), "id": c.get("id"), "index": i}
            for i, c in enumerate(message.tool_calls)
        ],
        usage_metadata=message.usage_metadata,
        id=message.id,
    )
