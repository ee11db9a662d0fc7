"""The prompt-cache simulation, as PROVIDER_FACTS describes Anthropic's.

- Entries are keyed by (API key, model, prefix key) and live for their TTL on the
  injected clock; a hit refreshes the lifetime for free.
- Each breakpoint looks for the longest written entry at its own position or up to
  ``LOOKBACK_BLOCKS`` (20) block boundaries before it; the longest hit over all
  breakpoints wins. A conversation that grows more than 20 blocks past its last write
  therefore misses.
- A breakpoint whose prefix is shorter than the model's minimum caches nothing, silently.
- Every qualifying breakpoint after the hit writes an entry. The bill is: read up to
  the hit, 1 h write up to the last 1 h breakpoint, 5 m write up to the last
  breakpoint, and the rest as plain input.
- Lookups happen when a request arrives, writes when its response starts
  (:meth:`PromptCache.commit`), so concurrent identical requests all miss and all write.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from llmopt.sandbox._clock import Clock
from llmopt.sandbox._prompt import Prompt

LOOKBACK_BLOCKS = 20
ONE_HOUR = 3600
_SWEEP_ABOVE = 10_000

CacheKey = tuple[str, str, bytes]


def cache_owner(api_key: str) -> str:
    """Whose cache entries a request sees: a digest of its API key, so the key itself is
    never kept (batches are saved to disk with their owner)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """How a request's input tokens split between cache reads, writes and plain input."""

    read_tokens: int
    write_5m_tokens: int
    write_1h_tokens: int
    input_tokens: int


@dataclass(frozen=True, slots=True)
class CachePlan:
    """What a request reads now and will write once its response starts."""

    usage: CacheUsage
    writes: tuple[tuple[CacheKey, int], ...]


@dataclass(slots=True)
class _Entry:
    ttl_seconds: int
    expires_at: float


class PromptCache:
    """Thread-safe cache entries with lookback, minimum length and TTLs."""

    def __init__(self, clock: Clock, *, lookback_blocks: int = LOOKBACK_BLOCKS) -> None:
        self._clock = clock
        self._lookback = lookback_blocks
        self._entries: dict[CacheKey, _Entry] = {}
        self._lock = threading.Lock()

    def plan(
        self, *, api_key: str, model: str, prompt: Prompt, min_tokens: int, lookup: bool = True
    ) -> CachePlan:
        """Look up ``prompt``'s breakpoints, refresh what hits, and plan the writes.

        ``lookup=False`` plans as if nothing were cached (a best-effort batch miss)."""
        if not prompt.breakpoints:
            return CachePlan(CacheUsage(0, 0, 0, prompt.total_tokens), ())
        tokens = prompt.prefix_tokens

        def key(position: int) -> CacheKey:
            return (api_key, model, prompt.prefix_keys[position])

        hit = -1
        with self._lock:
            now = self._clock()
            for breakpoint_ in prompt.breakpoints if lookup else ():
                start = breakpoint_.position
                for position in range(start, max(-1, start - self._lookback - 1), -1):
                    entry = self._entries.get(key(position))
                    if entry is None:
                        continue
                    if entry.expires_at <= now:
                        del self._entries[key(position)]
                        continue
                    entry.ttl_seconds = max(entry.ttl_seconds, breakpoint_.ttl_seconds)
                    entry.expires_at = max(entry.expires_at, now + entry.ttl_seconds)
                    hit = max(hit, position)
                    break
        writing = [
            b for b in prompt.breakpoints if b.position > hit and tokens[b.position] >= min_tokens
        ]
        read = tokens[hit] if hit >= 0 else 0
        last_long = [b.position for b in writing if b.ttl_seconds >= ONE_HOUR]
        long_end = tokens[last_long[-1]] if last_long else read
        end = tokens[writing[-1].position] if writing else read
        return CachePlan(
            usage=CacheUsage(
                read_tokens=read,
                write_5m_tokens=end - long_end,
                write_1h_tokens=long_end - read,
                input_tokens=prompt.total_tokens - end,
            ),
            writes=tuple((key(b.position), b.ttl_seconds) for b in writing),
        )

    def commit(self, plan: CachePlan) -> None:
        """Make ``plan``'s writes readable, living from now."""
        if not plan.writes:
            return
        with self._lock:
            now = self._clock()
            for key, ttl in plan.writes:
                entry = self._entries.get(key)
                if entry is None or entry.expires_at <= now:
                    self._entries[key] = _Entry(ttl, now + ttl)
                else:
                    entry.ttl_seconds = max(entry.ttl_seconds, ttl)
                    entry.expires_at = max(entry.expires_at, now + ttl)
            if len(self._entries) > _SWEEP_ABOVE:
                for stale in [k for k, e in self._entries.items() if e.expires_at <= now]:
                    del self._entries[stale]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def live_entries(self) -> int:
        """How many entries have not expired."""
        with self._lock:
            now = self._clock()
            return sum(1 for e in self._entries.values() if e.expires_at > now)
