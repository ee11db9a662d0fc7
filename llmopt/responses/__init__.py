"""The response cache: reuse a whole answer when the same, or the same-meaning, request
comes again. Kept apart from prompt caching (which still calls the model).

- :class:`ResponseCacheSettings`: an entry's ``configuration.responseCache`` (off by
  default; exact and optionally semantic matching, threshold, TTL, size, priority).
- :func:`canonical_request`: what decides an answer (the exact key, the context a
  semantic match must share, the question).
- :class:`LLMCacheLayer`: lookup and store, invalidation (audited), statistics; the
  design document's ``get_cached_response``, ``store_response``, ``invalidate_cache``
  and ``get_cache_stats``. :func:`response_cache_for` gives the process's one per store.
- :class:`LangChainResponseCache`: the same answers behind LangChain's cache interface
  (``set_llm_cache``), for any LangChain model.
- Backends: :class:`SQLiteResponses` (one machine), ``RedisResponses`` (shared).

``OptimizedLLMWrapper`` and the routed model use it for entries that opt in, and the
router answers from it during an outage when nothing healthy is left.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._backend import EntryStats, ResponseBackend, SQLiteResponses, StoredAnswer
from ._registry import URL_VARIABLE, backend_for, response_cache_for
from ._settings import ACTION_INVALIDATE, RESPONSE_CACHE, ResponseCacheSettings, settings_of

if TYPE_CHECKING:
    from ._langchain import LangChainResponseCache
    from ._layer import METADATA_KEY, CacheHit, CacheLookup, LLMCacheLayer
    from ._request import CanonicalRequest, canonical_request

# These import LangChain; the console (statistics, settings) loads without it.
_LAZY = {
    "LangChainResponseCache": "._langchain",
    "METADATA_KEY": "._layer",
    "CacheHit": "._layer",
    "CacheLookup": "._layer",
    "LLMCacheLayer": "._layer",
    "CanonicalRequest": "._request",
    "canonical_request": "._request",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'llmopt.responses' has no attribute {name!r}")


__all__ = [
    "ACTION_INVALIDATE",
    "METADATA_KEY",
    "RESPONSE_CACHE",
    "URL_VARIABLE",
    "CacheHit",
    "CacheLookup",
    "CanonicalRequest",
    "EntryStats",
    "LLMCacheLayer",
    "LangChainResponseCache",
    "ResponseBackend",
    "ResponseCacheSettings",
    "SQLiteResponses",
    "StoredAnswer",
    "backend_for",
    "canonical_request",
    "response_cache_for",
    "settings_of",
]
