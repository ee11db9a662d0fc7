"""Observed performance per entry: latency percentiles, error rate, cost per request.

Each process keeps the last ``WINDOW`` calls of every entry in memory (what the router
ranks by, with no I/O); :meth:`PerformanceBook.merge_shared` folds in what the other
processes observed, from the store's per-minute route statistics, so a fresh worker
does not start blind: it is used for an entry this process has not called yet.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

WINDOW = 200
# A handful of calls say little: below this many, latency and errors are "unknown".
MIN_OBSERVED = 5


@dataclass(frozen=True, slots=True)
class Performance:
    """What one entry's recent calls showed. Latencies in ms; ``None`` when unknown."""

    calls: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    cost_per_request_usd: float | None

    @property
    def error_rate(self) -> float:
        """Errors per call, smoothed towards 0 for few calls (one error in two calls is
        not a 50% failure rate)."""
        return self.errors / (self.calls + 2)

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "cost_per_request_usd": self.cost_per_request_usd,
        }


_NONE = Performance(0, 0, None, None, None)


@dataclass(frozen=True, slots=True)
class SharedObservation:
    """Another process's view of an entry: counts and percentiles from the store."""

    calls: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    cost_usd: float


class PerformanceBook:
    """Recent calls per entry, thread-safe; ``performance(key)`` is cheap (cached)."""

    def __init__(self, *, window: int = WINDOW) -> None:
        self._window = window
        self._latencies: dict[str, deque[float]] = {}
        self._outcomes: dict[str, deque[tuple[bool, float | None]]] = {}
        self._shared: dict[str, SharedObservation] = {}
        self._cache: dict[str, Performance] = {}
        self._lock = threading.Lock()

    def record(
        self, entry_key: str, *, latency_ms: float | None, ok: bool, cost_usd: float | None
    ) -> None:
        """One finished call: its latency (successes only), outcome and cost."""
        with self._lock:
            outcomes = self._outcomes.setdefault(entry_key, deque(maxlen=self._window))
            outcomes.append((ok, cost_usd))
            if ok and latency_ms is not None:
                latencies = self._latencies.setdefault(entry_key, deque(maxlen=self._window))
                latencies.append(latency_ms)
            self._cache.pop(entry_key, None)

    def merge_shared(self, observations: Mapping[str, SharedObservation]) -> None:
        """Replace what other processes observed (the watcher calls this)."""
        with self._lock:
            self._shared = dict(observations)
            self._cache.clear()

    def performance(self, entry_key: str) -> Performance:
        cached = self._cache.get(entry_key)
        if cached is not None:
            return cached
        with self._lock:
            result = self._compute(entry_key)
            self._cache[entry_key] = result
        return result

    def snapshot(self, entry_keys: Iterable[str]) -> dict[str, Performance]:
        return {key: self.performance(key) for key in entry_keys}

    def _compute(self, entry_key: str) -> Performance:
        outcomes = self._outcomes.get(entry_key, ())
        shared = self._shared.get(entry_key)
        calls = len(outcomes)
        errors = sum(1 for ok, _ in outcomes if not ok)
        costs = [cost for ok, cost in outcomes if ok and cost is not None]
        latencies = sorted(self._latencies.get(entry_key, ()))
        p50 = _percentile(latencies, 0.50) if len(latencies) >= MIN_OBSERVED else None
        p95 = _percentile(latencies, 0.95) if len(latencies) >= MIN_OBSERVED else None
        cost_sum, cost_calls = sum(costs), len(costs)
        if calls == 0 and shared is not None and shared.calls:
            # Other processes' view, until this process has calls of its own (the shared
            # statistics include this process's, so the two are never added).
            calls, errors = shared.calls, shared.errors
            p50, p95 = shared.p50_ms, shared.p95_ms
            cost_sum, cost_calls = shared.cost_usd, shared.calls - shared.errors
        if calls == 0:
            return _NONE
        per_request = cost_sum / cost_calls if cost_calls else None
        return Performance(calls, errors, p50, p95, per_request)


def _percentile(ordered: list[float], q: float) -> float:
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]
