"""PrefixMemory: which request prefixes were seen or cached recently, in this process."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

DEFAULT_CAPACITY = 4096
FORGETTING = 0.95
"""Each first sighting weighs the counts behind ``sighting``'s odds down by this much, so
they follow roughly the last twenty new prefixes: one-off traffic that starts to recur
is written again within tens of requests."""


class PrefixMemory:
    """The prefix fingerprints recent plans wrote to the cache or merely saw.

    Give one to :func:`plan_breakpoints` (``auto`` mode) and keep it for the life of
    the process, one per model wrapper or shared: it is what lets the planner tell a
    conversation's next turn or a repeated request from a one-off, find the
    previous turn's cache entry, and learn (``sighting``) whether new prefixes of a
    kind (system prompts, documents before a question) come again, so that one-off
    ones stop being written. Without it the planner falls back to what the request
    alone shows.

    - Entries live as long as the cache entry they stand for: ``ttl`` seconds from
      the last time they were recorded or read, measured on ``clock``.
    - At most ``capacity`` fingerprints are kept; the least recently used go first.
    - Thread-safe. Fingerprints are process-local (see ``llmopt.caching._tokens``),
      so a memory is never shared between processes or persisted.

    Raises ``ValueError`` for a capacity below 1.
    """

    __slots__ = ("_capacity", "_clock", "_counts", "_entries", "_lock")

    def __init__(
        self, *, capacity: int = DEFAULT_CAPACITY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._capacity = capacity
        self._clock = clock
        # fingerprint -> [seen until, written until, ttl of the written entry, recurred]
        self._entries: OrderedDict[int, list[float]] = OrderedDict()
        self._lock = threading.Lock()
        # Per kind of prefix: of those ``sighting`` saw for the first time, how many came
        # again (both weighed down by FORGETTING as new ones of that kind arrive).
        self._counts: dict[str, list[float]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def capacity(self) -> int:
        return self._capacity

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()

    def sighting(self, fingerprint: int, *, ttl: float, kind: str = "static") -> tuple[bool, float]:
        """Note that a request carries the prefix ``fingerprint``, of ``kind`` (the end of
        system, a block inside the turn), remembered ``ttl`` seconds from now.

        Returns whether it was seen or cached within its lifetime, and the learned chance,
        before this sighting, that a prefix of ``kind`` seen for the first time comes again
        within its lifetime: (came again + 1) / (first seen + 2), one half with nothing
        learned.
        """
        with self._lock:
            now = self._clock()
            counts = self._counts.setdefault(kind, [0.0, 0.0])  # first seen, came again
            odds = (counts[1] + 1.0) / (counts[0] + 2.0)
            entry = self._live(fingerprint, now)
            seen = entry is not None
            if entry is None:
                entry = self._touch(fingerprint, now)
                counts[0] = counts[0] * FORGETTING + 1.0
                counts[1] *= FORGETTING
            elif not entry[3]:  # each prefix counts once as having come again
                entry[3] = 1.0
                counts[1] += 1.0
            entry[0] = max(entry[0], now + ttl)
            self._evict()
            return seen, odds

    def _live(self, fingerprint: int, now: float) -> list[float] | None:
        entry = self._entries.get(fingerprint)
        if entry is None:
            return None
        if now >= entry[0] and now >= entry[1]:
            del self._entries[fingerprint]
            return None
        self._entries.move_to_end(fingerprint)
        return entry

    def recall(self, fingerprint: int) -> bool:
        """Whether the prefix was seen or cached within its lifetime."""
        with self._lock:
            return self._live(fingerprint, self._clock()) is not None

    def is_cached(self, fingerprint: int) -> bool:
        """Whether a breakpoint wrote this prefix to the cache and it has not expired."""
        with self._lock:
            now = self._clock()
            entry = self._live(fingerprint, now)
            return entry is not None and now < entry[1]

    def latest(
        self, fingerprints: Sequence[int], start: int, stop: int
    ) -> tuple[int | None, int | None]:
        """Scan ``fingerprints[start:stop]`` from the end.

        Returns the position of the last one cached, and of the last one seen or
        cached (``None`` when there is none). A cached entry found is read by the
        coming request, which refreshes its lifetime.
        """
        latest_any: int | None = None
        with self._lock:
            if not self._entries:
                return None, None
            now = self._clock()
            entries = self._entries
            for position in range(stop - 1, start - 1, -1):
                fingerprint = fingerprints[position]
                if fingerprint not in entries:
                    continue
                entry = self._live(fingerprint, now)
                if entry is None:
                    continue
                if latest_any is None:
                    latest_any = position
                if now < entry[1]:
                    entry[1] = now + entry[2]
                    return position, latest_any
        return None, latest_any

    def record(
        self,
        *,
        cached: Iterable[tuple[int, float]] = (),
        seen: Iterable[int] = (),
        seen_ttl: float = 300.0,
    ) -> None:
        """Remember prefixes a request writes to the cache (with each entry's TTL in
        seconds) and prefixes it merely contains (for ``seen_ttl`` seconds)."""
        with self._lock:
            now = self._clock()
            for fingerprint, ttl in cached:
                entry = self._touch(fingerprint, now)
                still_cached = now < entry[1]
                entry[1] = max(entry[1], now + ttl)
                entry[2] = max(entry[2], ttl) if still_cached else ttl
            for fingerprint in seen:
                entry = self._touch(fingerprint, now)
                entry[0] = max(entry[0], now + seen_ttl)
            self._evict()

    def _evict(self) -> None:
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def _touch(self, fingerprint: int, now: float) -> list[float]:
        entry = self._live(fingerprint, now)
        if entry is None:
            entry = [now, now, 0.0, 0.0]
            self._entries[fingerprint] = entry
        return entry
