"""OpenAI's automatic prompt caching (models before GPT-5.6), as the facts doc describes it.

- Only prompts of ``MIN_CACHED_TOKENS`` (1,024) tokens or more are cached; shorter ones
  report ``cached_tokens: 0`` and no error.
- Exact-prefix matching over tools → response_format schema → messages, by block
  (:mod:`._openai_prompt`): the longest live prefix of an earlier prompt is the hit.
- Hits count in ``CACHE_INCREMENT`` (128-token) steps: 1,024, 1,152, 1,280... tokens, the
  prefix rounded down. A repeated prompt therefore never reads all of itself.
- An entry lives while it is used: every hit renews it, and it is dropped after
  ``INACTIVITY_SECONDS`` (10 minutes of the sandbox clock; OpenAI says caches clear "within
  5 to 10 minutes of inactivity"). ``prompt_cache_retention: "24h"`` keeps entries written
  by that request for ``EXTENDED_RETENTION_SECONDS`` (24 h) of inactivity instead.
- Writes are free (no ``cache_write_tokens``) and become readable once the response
  starts (:meth:`AutomaticPromptCache.commit`), so concurrent identical requests all miss.
- Entries belong to one API key and model, apart from the Anthropic cache.
  ``prompt_cache_key`` only steers routing on the real API; it is accepted and does not
  change what matches here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from llmopt.sandbox._clock import Clock
from llmopt.sandbox._openai_prompt import ChatPrompt

MIN_CACHED_TOKENS = 1_024
CACHE_INCREMENT = 128
INACTIVITY_SECONDS = 600
EXTENDED_RETENTION_SECONDS = 24 * 3600
_SWEEP_ABOVE = 10_000

CacheKey = tuple[str, str, bytes]


def cached_length(prefix_tokens: int) -> int:
    """How many tokens of a matched prefix count as cached: 0 under 1,024, else the
    prefix rounded down to a 128-token step."""
    if prefix_tokens < MIN_CACHED_TOKENS:
        return 0
    return prefix_tokens - (prefix_tokens - MIN_CACHED_TOKENS) % CACHE_INCREMENT


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """What a request read (``cached_tokens``) and will write once its response starts."""

    cached_tokens: int
    writes: tuple[CacheKey, ...]
    lifetime_seconds: int


@dataclass(slots=True)
class _Entry:
    lifetime: int
    expires_at: float


class AutomaticPromptCache:
    """Thread-safe prefix entries that live while used."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[CacheKey, _Entry] = {}
        self._lock = threading.Lock()

    def lookup(
        self,
        *,
        owner: str,
        model: str,
        prompt: ChatPrompt,
        lifetime_seconds: int = INACTIVITY_SECONDS,
    ) -> CacheLookup:
        """Find ``prompt``'s longest cached prefix, renew it, and plan the writes."""
        if prompt.total_tokens < MIN_CACHED_TOKENS:
            return CacheLookup(0, (), lifetime_seconds)
        keys = [(owner, model, key) for key in prompt.prefix_keys]
        hit = -1
        with self._lock:
            now = self._clock()
            for position in range(len(keys) - 1, -1, -1):
                if prompt.prefix_tokens[position] < MIN_CACHED_TOKENS:
                    break
                entry = self._entries.get(keys[position])
                if entry is None:
                    continue
                if entry.expires_at <= now:
                    del self._entries[keys[position]]
                    continue
                hit = position
                break
            for position in range(hit, -1, -1):  # the shorter prefixes were used too
                entry = self._entries.get(keys[position])
                if entry is not None and entry.expires_at > now:
                    entry.expires_at = now + entry.lifetime
        read = cached_length(prompt.prefix_tokens[hit]) if hit >= 0 else 0
        writes = tuple(
            key
            for key, tokens in zip(keys, prompt.prefix_tokens, strict=True)
            if tokens >= MIN_CACHED_TOKENS
        )
        return CacheLookup(read, writes, lifetime_seconds)

    def commit(self, lookup: CacheLookup) -> None:
        """Make ``lookup``'s prefixes readable, living from now."""
        if not lookup.writes:
            return
        with self._lock:
            now = self._clock()
            for key in lookup.writes:
                entry = self._entries.get(key)
                if entry is None or entry.expires_at <= now:
                    self._entries[key] = _Entry(
                        lookup.lifetime_seconds, now + lookup.lifetime_seconds
                    )
                else:
                    entry.lifetime = max(entry.lifetime, lookup.lifetime_seconds)
                    entry.expires_at = max(entry.expires_at, now + entry.lifetime)
            if len(self._entries) > _SWEEP_ABOVE:
                for stale in [k for k, e in self._entries.items() if e.expires_at <= now]:
                    del self._entries[stale]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def live_entries(self) -> int:
        """How many prefix entries have not expired."""
        with self._lock:
            now = self._clock()
            return sum(1 for e in self._entries.values() if e.expires_at > now)
