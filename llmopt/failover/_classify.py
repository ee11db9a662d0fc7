"""What kind of failure an exception (or a refusing answer) is, and what to do about it.

=================== ============================== ============================ ===========
class               retried (by whom)              fails over to the next entry counts
=================== ============================== ============================ ===========
rate_limit          yes: the anthropic/openai SDK  yes                          yes
                    (2x, honours retry-after);
                    ours for Ollama
overload            yes: SDK; ours for Ollama      yes                          yes
timeout             yes: SDK; ours for Ollama      yes                          yes
server_error        yes: SDK; ours for Ollama      yes                          yes
invalid_request     no: the same request fails     no: the original error is    no
                    the same way anywhere          raised at once
authentication      no: the key stays wrong        yes: the next entry has      yes
                                                   other credentials
content_refusal     no                             yes (see below)              no
unknown             no                             yes: availability first      no
=================== ============================== ============================ ===========

"counts" means: counts toward the entry's circuit breaker. A refusal comes from a
healthy entry (it answered), so it never opens a circuit; it may fail over because a
refusal is usually one provider's safety filter (OpenAI's ``content_filter``, Anthropic's
``stop_reason: refusal``) and another provider with another policy may answer a request
that is in fact legitimate. When no other entry answers, the refusal itself is returned.
An error we cannot classify may be a bug in the caller's own code (a bad argument), so
it fails over without counting: a local bug must not open a circuit that every process
shares.

The SDKs of Anthropic and OpenAI retry 408/409/429/5xx, timeouts and connection errors
twice with backoff that honours ``retry-after``; a failure that reaches us has already
been retried, so nothing here adds a second loop on top. Ollama's client never retries:
:func:`retry_with_backoff` is for it (and for any caller who asks).

Classification duck-types on class names and status codes, so it works whether or not
``openai`` or ``ollama`` is installed, and it looks through LangChain's wrapping
(``__cause__``) for the provider's own exception.

============ =========================================================================
status       class
============ =========================================================================
400 404 413  invalid_request (404: the model or path the entry names does not exist:
422          a configuration fault that failing over would hide; fix the entry)
401 402 403  authentication (402: the account cannot pay; another entry may)
408 504      timeout
409          server_error (the SDKs retry it as a lock timeout)
429          rate_limit
503 529      overload
other 5xx    server_error (also Ollama's mid-stream error, status -1)
============ =========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

from llmopt.errors import ProviderError
from llmopt.store._records import utcnow


class ErrorClass(StrEnum):
    """What kind of failure a call met; see the module table for what each one means.

    The properties say the policy: :attr:`retryable`, :attr:`fails_over`,
    :attr:`counts_toward_circuit`.
    """

    RATE_LIMIT = "rate_limit"
    OVERLOAD = "overload"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    CONTENT_REFUSAL = "content_refusal"
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        """True when a later retry of the same call to the same entry can help."""
        return self in _RETRYABLE

    @property
    def fails_over(self) -> bool:
        """True when the next entry of a fallback chain should be tried."""
        return self is not ErrorClass.INVALID_REQUEST

    @property
    def counts_toward_circuit(self) -> bool:
        """True when the failure says the entry is unhealthy (it may open its circuit)."""
        return self in _COUNTING


_RETRYABLE = frozenset(
    {ErrorClass.RATE_LIMIT, ErrorClass.OVERLOAD, ErrorClass.TIMEOUT, ErrorClass.SERVER_ERROR}
)
_COUNTING = _RETRYABLE | {ErrorClass.AUTHENTICATION}

_BY_STATUS: dict[int, ErrorClass] = {
    400: ErrorClass.INVALID_REQUEST,
    401: ErrorClass.AUTHENTICATION,
    402: ErrorClass.AUTHENTICATION,
    403: ErrorClass.AUTHENTICATION,
    404: ErrorClass.INVALID_REQUEST,
    408: ErrorClass.TIMEOUT,
    409: ErrorClass.SERVER_ERROR,
    413: ErrorClass.INVALID_REQUEST,
    422: ErrorClass.INVALID_REQUEST,
    429: ErrorClass.RATE_LIMIT,
    503: ErrorClass.OVERLOAD,
    504: ErrorClass.TIMEOUT,
    529: ErrorClass.OVERLOAD,
}

# Modules whose exceptions we trust by class name (a user's own "TimeoutSomething" is not
# a provider timeout).
_KNOWN_MODULES = (
    "anthropic",
    "openai",
    "ollama",
    "httpx",
    "httpx2",
    "httpcore",
    "builtins",
    "asyncio",
    "socket",
    "ssl",
    "langchain_core",
    "langchain_openai",
    "langchain_anthropic",
    "langchain_ollama",
)
_REFUSAL_NAMES = frozenset({"ModelRefusalError", "ContentFilterFinishReasonError"})
_MAX_DEPTH = 8


def classify_error(exc: BaseException) -> ErrorClass:
    """The :class:`ErrorClass` of ``exc``, looking through ``__cause__``/``__context__``.

    Never raises; an exception it cannot place is :attr:`ErrorClass.UNKNOWN`.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _MAX_DEPTH:
        seen.add(id(current))
        found = _classify_one(current)
        if found is not None:
            return found
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return ErrorClass.UNKNOWN


def _classify_one(exc: BaseException) -> ErrorClass | None:
    names = _trusted_class_names(exc)
    if names & _REFUSAL_NAMES:
        return ErrorClass.CONTENT_REFUSAL
    status = status_code_of(exc)
    if status is not None:
        if status in _BY_STATUS:
            return _BY_STATUS[status]
        if status >= 500 or status < 0:
            # Ollama reports an error line in a stream as status -1.
            return ErrorClass.SERVER_ERROR
        if 400 <= status < 500:
            return ErrorClass.INVALID_REQUEST
    if isinstance(exc, ProviderError):
        return ErrorClass.SERVER_ERROR if exc.retryable else ErrorClass.INVALID_REQUEST
    if isinstance(exc, TimeoutError) or any("Timeout" in name for name in names):
        return ErrorClass.TIMEOUT
    if isinstance(exc, ConnectionError) or any(
        name
        in {
            "APIConnectionError",
            "ConnectError",
            "NetworkError",
            "RemoteProtocolError",
            "ReadError",
            "WriteError",
            "TransportError",
        }
        for name in names
    ):
        # The provider could not be reached: as good as a server error for us.
        return ErrorClass.SERVER_ERROR
    return None


def _trusted_class_names(exc: BaseException) -> frozenset[str]:
    return frozenset(
        cls.__name__ for cls in type(exc).__mro__ if cls.__module__.split(".")[0] in _KNOWN_MODULES
    )


def status_code_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (``status_code``, or its ``response``'s)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    return None


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait (``retry-after-ms``, ``retry-after`` in
    seconds or as an HTTP date, or a ``retry_after`` attribute), else ``None``."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None or not hasattr(headers, "get"):
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return float(milliseconds) / 1000.0
        except ValueError:
            pass
    text = headers.get("retry-after")
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def classify_response(message: Any) -> ErrorClass | None:
    """:attr:`ErrorClass.CONTENT_REFUSAL` when an answer is a refusal, else ``None``.

    Reads a LangChain message's ``response_metadata`` (or a plain mapping of it):
    OpenAI's ``finish_reason == "content_filter"`` or a ``refusal``
    (``additional_kwargs``, or a refusal content block), Anthropic's
    ``stop_reason == "refusal"``.
    """
    metadata = (
        message if isinstance(message, Mapping) else getattr(message, "response_metadata", None)
    )
    if isinstance(metadata, Mapping):
        if metadata.get("finish_reason") == "content_filter":
            return ErrorClass.CONTENT_REFUSAL
        if metadata.get("stop_reason") == "refusal":
            return ErrorClass.CONTENT_REFUSAL
        if metadata.get("refusal"):
            return ErrorClass.CONTENT_REFUSAL
        details = metadata.get("incomplete_details")
        if isinstance(details, Mapping) and details.get("reason") == "content_filter":
            return ErrorClass.CONTENT_REFUSAL
    extra = getattr(message, "additional_kwargs", None)
    if isinstance(extra, Mapping) and extra.get("refusal"):
        return ErrorClass.CONTENT_REFUSAL
    content = getattr(message, "content", None)
    if isinstance(content, list) and any(
        isinstance(block, Mapping) and block.get("type") == "refusal" for block in content
    ):
        return ErrorClass.CONTENT_REFUSAL
    return None
