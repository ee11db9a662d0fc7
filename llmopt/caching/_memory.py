"""PrefixMemory: which request prefixes were seen, cached and read recently, and what
the planner has learned about how often new ones come again."""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

DEFAULT_CAPACITY = 4096
FORGETTING = 0.95
"""Each first sighting weighs the counts behind ``sighting``'s odds down by this much, so
they follow roughly the last twenty new prefixes: one-off traffic that starts to recur
is written again within tens of requests."""
SHARED_PREFIXES = 512
"""How many of the most recently used prefixes :meth:`PrefixMemory.export` hands on."""

Write = tuple[int, float, int]
"""A prefix a request writes to the cache: fingerprint, lifetime in seconds, and the
tokens the write bills (the part not already cached)."""


class _Prefix:
    """What the memory knows of one prefix; times are on the memory's clock."""

    __slots__ = (
        "kind",
        "last_read",
        "last_seen",
        "recurred",
        "seen_until",
        "ttl",
        "unread_tokens",
        "written_until",
    )

    def __init__(self, now: float) -> None:
        self.seen_until = now
        self.written_until = now
        self.ttl = 0.0  # of the cache entry written
        self.recurred = False  # counted once as a prefix that came again
        # The kind it was counted under as first seen; "" when another process counted it.
        self.kind: str | None = None
        self.last_seen = now
        self.last_read = -1.0
        self.unread_tokens = 0  # of the latest write, until something reads it


class Sighting(NamedTuple):
    """What :meth:`PrefixMemory.sighting` knew of a prefix just before this sighting."""

    seen: bool
    """Seen or cached within its lifetime."""
    odds: float
    """The learned chance that a new prefix of its kind comes again."""
    cached: bool = False
    """Written to the cache and not expired."""
    idle: float | None = None
    """Seconds since a request last carried it; ``None`` when not remembered."""


class _Learned:
    """Of the prefixes of one kind seen for the first time, how many came again: both
    weighed down by FORGETTING per first sighting (this process's, and other processes'
    as it learns of them), and how many this process saw first, unweighed."""

    __slots__ = ("came", "first", "firsts")

    def __init__(self) -> None:
        self.first = 0.0
        self.came = 0.0
        self.firsts = 0


_Theirs = tuple[float, float, int, int]
"""Another process's counts of a kind: first, came again (weighed as it knew), how many it
saw first, and how many first sightings it knew of, all processes', when it exported."""


class PrefixMemory:
    """The prefix fingerprints recent plans wrote to the cache, read or merely saw.

    Give one to :func:`plan_breakpoints` (``auto`` mode) and keep it for the life of
    the process, one per ``llm`` entry (the wrapper shares one per entry and store):
    it is what lets the planner tell a conversation's next turn or a repeated request
    from a one-off, find the previous turn's cache entry, see how long a prefix stayed
    away (``idle_for``, for ``cacheTTL: "auto"``), learn (``sighting``) whether new
    prefixes of a kind (system prompts, documents before a question) come again, so
    that one-off ones stop being written, and count the writes that expired unread
    (``take_unread``). Without it the planner falls back to what the request alone
    shows.

    - Entries live as long as the cache entry they stand for: ``ttl`` seconds from
      the last time they were recorded or read, measured on ``clock`` (seconds since
      the epoch, like :func:`time.time`, so that memories of several processes can
      be merged: ``export`` and ``merge``).
    - At most ``capacity`` fingerprints are kept; the least recently used go first.
    - Thread-safe.
    - ``shared``: the planner fingerprints the requests planned with this memory the
      same way in every process (a digest of each text, remembered), so that ``export``
      and ``merge`` can share it; ``merge`` refuses an export that is not of that
      scheme (an unshared memory's, or an llmopt release that fingerprints
      differently). Unshared, it uses Python's own hashes, which a string keeps: a
      little cheaper on long requests, but another in each process.

    Raises ``ValueError`` for a capacity below 1.
    """

    __slots__ = (
        "_capacity",
        "_clock",
        "shared",
        "_counts",
        "_entries",
        "_expiries",
        "_lock",
        "_others",
        "_unread",
    )

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.time,
        shared: bool = False,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.shared = shared
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[int, _Prefix] = OrderedDict()
        self._lock = threading.Lock()
        self._counts: dict[str, _Learned] = {}  # per kind of prefix
        # The same counts of other processes, as they last exported them, by process.
        self._others: dict[str, dict[str, _Theirs]] = {}
        # When each write expires, to find the ones never read; tokens never read, 5m/1h.
        self._expiries: list[tuple[float, int]] = []
        self._unread = [0, 0]

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
            self._others.clear()
            self._expiries.clear()
            self._unread = [0, 0]

    def sighting(self, fingerprint: int, *, ttl: float, kind: str = "static") -> Sighting:
        """Note that a request carries the prefix ``fingerprint``, of ``kind`` (the end of
        system, a block inside the turn), remembered ``ttl`` seconds from now.

        Returns (:class:`Sighting`) whether it was seen or cached within its lifetime, the
        learned chance, before this sighting, that a prefix of ``kind`` seen for the first
        time comes again within its lifetime: (came again + 1) / (first seen + 2), one
        half with nothing learned; and whether it is cached and how long it was away.
        Other processes' counts (``merge``) are added to this one's. A prefix that comes
        again counts for the kind it was first seen as.
        """
        with self._lock:
            now = self._clock()
            counts = self._counts.get(kind)
            if counts is None:
                counts = self._counts[kind] = _Learned()
            odds = self._odds(kind)
            entry = self._live(fingerprint, now)
            seen = entry is not None
            cached, idle = False, None
            if entry is None:
                entry = self._touch(fingerprint, now)
            else:
                cached, idle = now < entry.written_until, now - entry.last_seen
            if entry.kind is None:  # also a prefix only recorded so far: its first sighting
                entry.kind = kind
                counts.first = counts.first * FORGETTING + 1.0
                counts.came *= FORGETTING
                counts.firsts += 1
            if seen and not entry.recurred:  # each prefix counts once as having come again
                entry.recurred = True
                first_kind = self._counts.get(entry.kind) if entry.kind else None
                (first_kind or counts).came += 1.0
            entry.seen_until = max(entry.seen_until, now + ttl)
            entry.last_seen = now
            self._evict()
            return Sighting(seen, odds, cached, idle)

    def odds(self, kind: str = "static") -> float:
        """The chance ``sighting`` would give now for a new prefix of ``kind``."""
        with self._lock:
            return self._odds(kind)

    def _odds(self, kind: str) -> float:
        own = self._counts.get(kind)
        first, came = (own.first, own.came) if own is not None else (0.0, 0.0)
        if self._others:
            known = self._known(kind)
            for other in self._others.values():
                theirs = other.get(kind)
                if theirs is not None:
                    # Weighed down, too, by the first sightings it had not heard of.
                    weight = FORGETTING ** max(0, known - theirs[3])
                    first += theirs[0] * weight
                    came += theirs[1] * weight
        # Prefixes that come again long after their first sighting weighed down add their
        # full weight: never let them count for more than the first sightings.
        return (min(came, first) + 1.0) / (first + 2.0)

    def _known(self, kind: str) -> int:
        """First sightings of ``kind`` this process knows of, its own and the others'."""
        own = self._counts.get(kind)
        known = own.firsts if own is not None else 0
        for other in self._others.values():
            theirs = other.get(kind)
            if theirs is not None:
                known += theirs[2]
        return known

    def _live(self, fingerprint: int, now: float) -> _Prefix | None:
        entry = self._entries.get(fingerprint)
        if entry is None:
            return None
        if now >= entry.seen_until and now >= entry.written_until:
            del self._entries[fingerprint]
            self._count_unread(entry)
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
            return entry is not None and now < entry.written_until

    def idle_for(self, fingerprint: int) -> float | None:
        """Seconds since a request last carried the prefix, ``None`` when not remembered."""
        with self._lock:
            now = self._clock()
            entry = self._live(fingerprint, now)
            return None if entry is None else now - entry.last_seen

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
                if now < entry.written_until:
                    entry.written_until = now + entry.ttl
                    entry.last_read = now
                    entry.unread_tokens = 0
                    return position, latest_any
        return None, latest_any

    def record(
        self,
        *,
        cached: Iterable[Write] = (),
        seen: Iterable[int] = (),
        seen_ttl: float = 300.0,
    ) -> None:
        """Remember prefixes a request writes to the cache (or reads: a marked prefix
        still cached) and prefixes it merely contains (for ``seen_ttl`` seconds)."""
        with self._lock:
            now = self._clock()
            for fingerprint, ttl, tokens in cached:
                entry = self._touch(fingerprint, now)
                entry.last_seen = now
                if now < entry.written_until:  # a read: it refreshes the entry
                    entry.ttl = max(entry.ttl, ttl)
                    entry.last_read = now
                    entry.unread_tokens = 0
                else:
                    self._count_unread(entry)
                    entry.ttl = ttl
                    entry.unread_tokens = tokens
                    if tokens:
                        heapq.heappush(self._expiries, (now + ttl, fingerprint))
                entry.written_until = max(entry.written_until, now + ttl)
            for fingerprint in seen:
                entry = self._touch(fingerprint, now)
                entry.seen_until = max(entry.seen_until, now + seen_ttl)
                entry.last_seen = now
            self._evict()

    def take_unread(self) -> tuple[int, int]:
        """Tokens of this memory's cache writes (5 m, 1 h) found since the last call to
        have expired without a read; each write is counted once. A write whose prefix
        was pushed out of the memory before it expired is not counted."""
        with self._lock:
            now = self._clock()
            expiries, entries, unread = self._expiries, self._entries, self._unread
            while expiries and expiries[0][0] <= now:
                _, fingerprint = heapq.heappop(expiries)
                entry = entries.get(fingerprint)
                if entry is not None and now >= entry.written_until:
                    self._count_unread(entry)
            if not unread[0] and not unread[1]:
                return _NOTHING_UNREAD
            self._unread = [0, 0]
            return unread[0], unread[1]

    def _count_unread(self, entry: _Prefix) -> None:
        if entry.unread_tokens:
            self._unread[entry.ttl > 300.0] += entry.unread_tokens
            entry.unread_tokens = 0

    # -- sharing with other processes ----------------------------------------------

    def export(self, *, limit: int = SHARED_PREFIXES) -> dict[str, Any]:
        """What other processes' memories of the same entry take from this one (JSON):
        the learned counts and the ``limit`` most recently used prefixes."""
        with self._lock:
            recent: list[list[float]] = []
            for fingerprint in reversed(self._entries):
                if len(recent) >= limit:
                    break
                entry = self._entries[fingerprint]
                recent.append(
                    [
                        fingerprint,
                        entry.seen_until,
                        entry.written_until,
                        entry.ttl,
                        entry.last_seen,
                        entry.last_read,
                        int(entry.recurred),
                    ]
                )
            counts = {
                kind: [learned.first, learned.came, learned.firsts, self._known(kind)]
                for kind, learned in self._counts.items()
            }
        scheme = FINGERPRINT_SCHEME if self.shared else _PROCESS_LOCAL
        return {"scheme": scheme, "counts": counts, "prefixes": recent}

    def merge(self, source: str, state: Mapping[str, Any]) -> None:
        """Take another process's ``export`` (``source`` names that process): its counts
        replace the ones it sent before; its prefixes join this memory's, each keeping
        the later of the two times.

        Raises ``ValueError`` for a state that is not an export, or an export whose
        fingerprints are of another scheme, leaving the memory as it was.
        """
        if not self.shared:
            raise ValueError("this PrefixMemory is not shared: make it with shared=True")
        if state.get("scheme") != FINGERPRINT_SCHEME:
            raise ValueError(
                f"not a PrefixMemory export of this llmopt's shared fingerprints "
                f"(scheme {state.get('scheme')!r}, not {FINGERPRINT_SCHEME})"
            )
        counts, prefixes = _validated(state)
        with self._lock:
            before = self._others.get(source)
            if before is not None:
                # Its new first sightings weigh this process's counts down, as its own do.
                for kind, theirs in counts.items():
                    own = self._counts.get(kind)
                    new = theirs[2] - before[kind][2] if kind in before else theirs[2]
                    if own is not None and new > 0:
                        own.first *= FORGETTING**new
                        own.came *= FORGETTING**new
            self._others[source] = counts
            now = self._clock()
            entries = self._entries
            for row in prefixes:
                fingerprint, seen_until, written_until, ttl, last_seen, last_read, recurred = row
                if now >= seen_until and now >= written_until:
                    continue
                entry = entries.get(fingerprint)
                if entry is None:
                    entry = entries[fingerprint] = _Prefix(now)
                    entry.last_seen = last_seen
                    entry.kind = ""  # counted by the process it came from
                entry.seen_until = max(entry.seen_until, seen_until)
                if written_until > entry.written_until:
                    entry.written_until = written_until
                    entry.ttl = ttl
                entry.last_seen = max(entry.last_seen, last_seen)
                if last_read > entry.last_read:
                    entry.last_read = last_read
                    if last_read >= entry.written_until - entry.ttl:  # read since written
                        entry.unread_tokens = 0
                entry.recurred = entry.recurred or bool(recurred)
            self._evict()

    def forget_processes(self, *, keep: Collection[str] = ()) -> None:
        """Stop counting what processes other than ``keep`` exported (they have stopped)."""
        with self._lock:
            for source in [source for source in self._others if source not in keep]:
                del self._others[source]

    # -- upkeep --------------------------------------------------------------------

    def _evict(self) -> None:
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def _touch(self, fingerprint: int, now: float) -> _Prefix:
        entry = self._live(fingerprint, now)
        if entry is None:
            entry = self._entries[fingerprint] = _Prefix(now)
        return entry


_NOTHING_UNREAD = (0, 0)
FINGERPRINT_SCHEME = 1
_PROCESS_LOCAL = 0
"""The shared fingerprint scheme (``llmopt.caching._tokens.SHARED``): memories share
only with memories that fingerprint alike; an unshared memory exports ``_PROCESS_LOCAL``."""


_Shared = tuple[int, float, float, float, float, float, int]
"""One exported prefix: fingerprint, seen until, written until, ttl, last seen, last
read, came again."""


def _validated(state: Mapping[str, Any]) -> tuple[dict[str, _Theirs], list[_Shared]]:
    try:
        if not isinstance(state["counts"], Mapping) or not isinstance(state["prefixes"], list):
            raise TypeError("counts must be an object and prefixes a list")
        counts: dict[str, _Theirs] = {}
        for kind, four in state["counts"].items():
            if len(four) != 4:
                raise ValueError(f"counts of {kind!r} must be four numbers, not {len(four)}")
            counts[str(kind)] = (float(four[0]), float(four[1]), int(four[2]), int(four[3]))
        prefixes = [
            (
                int(row[0]),
                float(row[1]),
                float(row[2]),
                float(row[3]),
                float(row[4]),
                float(row[5]),
                int(row[6]),
            )
            for row in state["prefixes"]
        ]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"not a PrefixMemory export: {exc!r}") from exc
    if not all(math.isfinite(n) and n >= 0 for four in counts.values() for n in four):
        raise ValueError("not a PrefixMemory export: counts must be finite and not negative")
    return counts, prefixes
