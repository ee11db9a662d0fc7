"""``ChatAnthropic``'s own request cycle, with the payload exposed between building and sending.

The wrapper must place cache breakpoints in the exact request ``ChatAnthropic`` would
send, so it reuses the model's payload builder (``_get_request_payload``), its senders
(``_create``/``_acreate``), its response and stream-event parsers and its error mapping,
instead of re-implementing them. Those are private to langchain-anthropic: this module
is the only place that touches them, and the dependency is pinned (``>=1.7.7,<1.8`` in
pyproject.toml) so an upgrade is a deliberate act. Every private member used here is
listed, with how it is called, in tests/llmopt/wrapper/test_langchain_anthropic_contract.py,
which fails naming the member an upgrade removed or re-shaped; CI also runs the wrapper's
tests against the newest langchain-anthropic release (.ci/run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anthropic
from langchain_anthropic import ChatAnthropic
from langchain_anthropic import chat_models as _lc
from langchain_anthropic._sdk_compat import _aparse
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

_CACHE_WORDS = ("cache_control", "cache control", "ttl=")


def is_anthropic(model: object) -> bool:
    """Whether ``model`` is a ``ChatAnthropic`` whose request cycle this module can drive."""
    return isinstance(model, ChatAnthropic)


def build_payload(
    model: ChatAnthropic, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
) -> dict[str, Any]:
    """The request body ``model`` would send for these messages and call options."""
    payload: dict[str, Any] = model._get_request_payload(messages, stop=stop, **kwargs)
    return payload


def caused_by_cache_markers(error: BaseException) -> bool:
    """Whether a 400 names the cache markers, so that a request without them may pass."""
    if not isinstance(error, anthropic.BadRequestError):
        return False
    message = str(getattr(error, "message", error)).lower()
    return any(word in message for word in _CACHE_WORDS)


def is_retryable(error: BaseException) -> bool:
    """Failures a later attempt may cure: rate limits, overload, server and connection errors."""
    # Overload (529) subclasses InternalServerError, and timeouts APIConnectionError.
    return isinstance(
        error,
        anthropic.RateLimitError | anthropic.InternalServerError | anthropic.APIConnectionError,
    )


@contextmanager
def _langchain_errors() -> Iterator[None]:
    # ChatAnthropic's mapping of the SDK's errors to LangChain's: each handler raises.
    try:
        yield
    except anthropic.BadRequestError as e:
        _lc._handle_anthropic_bad_request(e)
    except anthropic.APIError as e:
        _lc._handle_anthropic_api_error(e)


def _generation_info(model: ChatAnthropic, raw_response: Any) -> dict[str, Any]:
    generation_info: dict[str, Any] = {}
    if model._uses_gateway:
        _lc._add_gateway_metadata(generation_info, raw_response)
    return generation_info


def generate(model: ChatAnthropic, payload: dict[str, Any], **kwargs: Any) -> ChatResult:
    """Send ``payload`` and parse the reply, exactly as ``ChatAnthropic._generate`` does."""
    with _langchain_errors():
        raw_response = model._create(payload)
    generation_info = _generation_info(model, raw_response)
    result: ChatResult = model._format_output(
        raw_response.parse(), generation_info=generation_info, **kwargs
    )
    return result


async def agenerate(model: ChatAnthropic, payload: dict[str, Any], **kwargs: Any) -> ChatResult:
    """The async twin of :func:`generate`."""
    with _langchain_errors():
        raw_response = await model._acreate(payload)
    generation_info = _generation_info(model, raw_response)
    result: ChatResult = model._format_output(
        await _aparse(raw_response), generation_info=generation_info, **kwargs
    )
    return result


def stream_options(model: ChatAnthropic, kwargs: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Split ``stream_usage`` off the call options and ask for a stream, as ``_stream`` does."""
    options = dict(kwargs)
    stream_usage = options.pop("stream_usage", None)
    options["stream"] = True
    return (model.stream_usage if stream_usage is None else stream_usage), options


def _coerce_to_string(payload: dict[str, Any]) -> bool:
    return not (
        _lc._tools_in_params(payload)
        or _lc._documents_in_params(payload)
        or _lc._thinking_in_params(payload)
        or _lc._compact_in_params(payload)
    )


@dataclass
class _Chunks:
    """A stream's events made into chunks, one by one, as ``ChatAnthropic._stream`` does."""

    model: ChatAnthropic
    stream_usage: bool
    coerce_content_to_string: bool
    generation_info: dict[str, Any]  # the first chunk's
    block_start_event: Any = None
    first: bool = True

    def of(self, event: Any) -> ChatGenerationChunk | None:
        """The chunk for ``event``, or ``None`` for an event that makes none."""
        message, self.block_start_event = self.model._make_message_chunk_from_anthropic_event(
            event,
            stream_usage=self.stream_usage,
            coerce_content_to_string=self.coerce_content_to_string,
            block_start_event=self.block_start_event,
        )
        if message is None:
            return None
        chunk = ChatGenerationChunk(
            message=message, generation_info=self.generation_info if self.first else None
        )
        self.first = False
        return chunk


def stream(
    model: ChatAnthropic,
    payload: dict[str, Any],
    *,
    stream_usage: bool,
    run_manager: CallbackManagerForLLMRun | None,
) -> Iterator[ChatGenerationChunk]:
    """Send ``payload`` as a stream and yield chunks, exactly as ``ChatAnthropic._stream`` does."""
    with _langchain_errors():
        raw_response = model._create(payload)
        generation_info = _generation_info(model, raw_response)
        events = raw_response.parse()
        chunks = _Chunks(model, stream_usage, _coerce_to_string(payload), generation_info)
        for event in events:
            chunk = chunks.of(event)
            if chunk is None:
                continue
            if run_manager and isinstance(chunk.message.content, str):
                run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk


async def astream(
    model: ChatAnthropic,
    payload: dict[str, Any],
    *,
    stream_usage: bool,
    run_manager: AsyncCallbackManagerForLLMRun | None,
) -> AsyncIterator[ChatGenerationChunk]:
    """The async twin of :func:`stream`."""
    with _langchain_errors():
        raw_response = await model._acreate(payload)
        generation_info = _generation_info(model, raw_response)
        events = await _aparse(raw_response)
        chunks = _Chunks(model, stream_usage, _coerce_to_string(payload), generation_info)
        async for event in events:
            chunk = chunks.of(event)
            if chunk is None:
                continue
            if run_manager and isinstance(chunk.message.content, str):
                await run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk


def result_from_message(model: ChatAnthropic, message: dict[str, Any], **kwargs: Any) -> ChatResult:
    """A ChatResult from an Anthropic Message as JSON (a batch result), parsed as a reply is."""
    parsed = anthropic.types.Message.model_validate(message)
    result: ChatResult = model._format_output(parsed, **kwargs)
    return result


def async_client(model: ChatAnthropic) -> anthropic.AsyncAnthropic:
    """A new async SDK client with ``model``'s credentials, URL, retries and headers.

    The batch dispatcher needs its own: an HTTP connection pool belongs to one event loop.
    """
    return anthropic.AsyncAnthropic(**model._client_params)
