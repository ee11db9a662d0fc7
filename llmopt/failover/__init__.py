"""Failover: error classes, circuit breakers shared through the store, the failover handler.

==================== ====================================================================
name                 use it to
==================== ====================================================================
``classify_error``   tell a rate limit from a bad request (:class:`ErrorClass`, its policy)
``classify_response`` tell a refusal answer from an answer
``retry_with_backoff`` retry a client that has no retries of its own (Ollama)
``CircuitBoard``     share one circuit breaker per entry between processes
``FailoverHandler``  answer from the first healthy entry of a fallback chain
==================== ====================================================================

Framework-free: no Django. See :mod:`llmopt.failover._classify` for the per-class policy
table and :mod:`llmopt.failover._board` for how circuits are shared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmopt.errors import NoHealthyEntry

from ._backoff import Backoff, aretry_with_backoff, retry_with_backoff
from ._board import (
    ACTION_FORCE,
    ACTION_RELEASE,
    KIND_CLOSED,
    KIND_FAILOVER,
    KIND_FORCED,
    KIND_OPENED,
    CircuitBoard,
    circuit_board_for,
)
from ._classify import ErrorClass, classify_error, classify_response, retry_after_of
from ._settings import CircuitBreakerSettings

if TYPE_CHECKING:
    from ._handler import METADATA_KEY, Attempt, FailoverHandler

# The handler imports LangChain; the console (circuits, settings) must not pay for it.
_HANDLER = {"METADATA_KEY", "Attempt", "FailoverHandler"}


def __getattr__(name: str) -> Any:
    if name in _HANDLER:
        from . import _handler

        return getattr(_handler, name)
    raise AttributeError(f"module 'llmopt.failover' has no attribute {name!r}")


__all__ = [
    "ACTION_FORCE",
    "ACTION_RELEASE",
    "KIND_CLOSED",
    "KIND_FAILOVER",
    "KIND_FORCED",
    "KIND_OPENED",
    "METADATA_KEY",
    "Attempt",
    "Backoff",
    "CircuitBoard",
    "CircuitBreakerSettings",
    "ErrorClass",
    "FailoverHandler",
    "NoHealthyEntry",
    "aretry_with_backoff",
    "circuit_board_for",
    "classify_error",
    "classify_response",
    "retry_after_of",
    "retry_with_backoff",
]
