"""The process's one response cache per llmopt store, and where its answers live.

``LLMOPT_RESPONSE_CACHE_URL`` chooses the backend for every process that shares a store:
``redis://host:6379/0`` (or ``rediss://``) keeps answers in Redis, shared by every
machine; a file path keeps them in that SQLite file. Unset, answers go to a SQLite file
beside a SQLite store (``<store>.responses.sqlite3``: one machine, every process), or
in memory for an in-memory store or an ArangoDB one (set the variable to share them).
``LLMOPT_RESPONSE_CACHE_MAX_ANSWERS`` bounds the answers of all entries together
(default 1,000,000; lowest priority, then least recently used, go first).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmopt.errors import ConfigError, FieldProblem
from llmopt.store import Store
from llmopt.store._per_store import PerStore

from ._backend import ResponseBackend, SQLiteResponses

if TYPE_CHECKING:
    from ._layer import LLMCacheLayer

URL_VARIABLE = "LLMOPT_RESPONSE_CACHE_URL"
MAX_ANSWERS_VARIABLE = "LLMOPT_RESPONSE_CACHE_MAX_ANSWERS"


def backend_for(store: Store, url: str | None = None) -> ResponseBackend:
    """The backend ``url`` names (default: ``LLMOPT_RESPONSE_CACHE_URL``, else beside
    ``store``). Raises :class:`~llmopt.errors.ConfigError` for a URL it cannot use."""
    url = url if url is not None else os.environ.get(URL_VARIABLE, "").strip()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from ._redis import RedisResponses

        redis_backend: ResponseBackend = RedisResponses(url)
        return redis_backend
    if "://" in url:
        raise ConfigError(
            [
                FieldProblem(
                    URL_VARIABLE,
                    f"{URL_VARIABLE} must be a redis:// URL or a file path, not {url.split('://')[0]}://",
                )
            ]
        )
    if url:
        return SQLiteResponses(url)
    path = getattr(store, "path", None)
    if isinstance(path, str) and path not in ("", ":memory:") and not path.startswith("file:"):
        return SQLiteResponses(f"{path}.responses.sqlite3")
    return SQLiteResponses(":memory:")


@dataclass(frozen=True)
class _Held:
    store: Store
    layer: LLMCacheLayer


def _make(store: Store) -> _Held:
    from ._layer import DEFAULT_MAX_ANSWERS, LLMCacheLayer

    limit = os.environ.get(MAX_ANSWERS_VARIABLE, "").strip()
    try:
        max_answers = int(limit) if limit else DEFAULT_MAX_ANSWERS
    except ValueError:
        raise ConfigError(
            [FieldProblem(MAX_ANSWERS_VARIABLE, f"{MAX_ANSWERS_VARIABLE} must be a whole number")]
        ) from None
    return _Held(store, LLMCacheLayer(backend_for(store), store=store, max_answers=max_answers))


_layers: PerStore[_Held] = PerStore(_make)


def response_cache_for(store: Store) -> LLMCacheLayer:
    """The process's response cache for ``store``, made on first use."""
    return _layers(store).layer
