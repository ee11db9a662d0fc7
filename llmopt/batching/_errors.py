"""Turning the SDK's exceptions and a batch item's error into ``ProviderError``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anthropic

from llmopt.errors import ProviderError

# Error types that resending the same request cannot cure. PROVIDER_FACTS names only
# invalid_request_error; the others fail the same way on a retry, so retrying only
# costs time. Every other type (api_error, overloaded_error, rate_limit_error, ...)
# may be retried as it is.
NOT_RETRYABLE_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "billing_error",
    }
)

_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

_RETRYABLE_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    """Whether the SDK (and we) retry an HTTP status: 408, 409, 429 and every 5xx."""
    return status in _RETRYABLE_STATUSES or status >= 500


def provider_error(exc: anthropic.AnthropicError, *, doing: str) -> ProviderError:
    """A ``ProviderError`` for an SDK exception raised while ``doing`` something."""
    if isinstance(exc, anthropic.APIStatusError):
        kind = exc.type or f"HTTP {exc.status_code}"
        detail = exc.api_message or str(exc)
        retryable = is_retryable_status(exc.status_code)
        if exc.type in NOT_RETRYABLE_TYPES:
            retryable = False
        return ProviderError(
            f"{doing} failed: {kind}: {detail}", retryable=retryable, status_code=exc.status_code
        )
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError(f"{doing} failed: {exc}", retryable=True)
    return ProviderError(f"{doing} failed: {exc}", retryable=False)


def retry_after(exc: BaseException) -> float | None:
    """The seconds a 429 or 529 response asked to wait (``retry-after``), if any."""
    if not isinstance(exc, anthropic.APIStatusError):
        return None
    headers = exc.response.headers
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(0.0, float(millis) / 1000)
        seconds = headers.get("retry-after")
        return None if seconds is None else max(0.0, float(seconds))
    except ValueError:
        return None


def item_error(error: Mapping[str, Any] | None, custom_id: str) -> ProviderError:
    """The ``ProviderError`` for a batch item that came back ``errored``.

    ``error`` is the item's ``{"type": "error", "error": {"type", "message"}}``.
    """
    inner = (error or {}).get("error") or {}
    kind = str(inner.get("type") or "api_error")
    message = str(inner.get("message") or "no message")
    return ProviderError(
        f"batch request {custom_id} errored: {kind}: {message}",
        retryable=kind not in NOT_RETRYABLE_TYPES,
        status_code=_STATUS_BY_TYPE.get(kind),
    )
