"""What routed calls tell the store, off the call path: decisions and per-minute stats.

One :class:`RouteTelemetry` per store and process queues each decision and call
outcome in memory and writes them every ``FLUSH_SECONDS`` from a daemon thread, then
reads the other processes' recent per-entry statistics into the shared
:class:`PerformanceBook` (for entries this process has not called yet). A store that
cannot be written costs only the telemetry: the failure is logged once per outage.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from llmopt.errors import LLMOptError
from llmopt.store import (
    LATENCY_BUCKETS_MS,
    RouteStatsRollup,
    RoutingDecisionRecord,
    Store,
)
from llmopt.store._per_store import PerStore
from llmopt.wrapper._background import PeriodicTask

from ._performance import PerformanceBook, SharedObservation
from ._router import RouteDecision

logger = logging.getLogger("llmopt.routing")

FLUSH_SECONDS = 2.0
SHARED_WINDOW = timedelta(minutes=15)


class RouteTelemetry:
    """Queues decisions and outcomes for ``store``; see the module docstring."""

    def __init__(self, store: Store, *, interval: float = FLUSH_SECONDS) -> None:
        self.store = store
        self.performance = PerformanceBook()
        self._decisions: list[RoutingDecisionRecord] = []
        self._stats: dict[tuple[datetime, str], RouteStatsRollup] = {}
        self._lock = threading.Lock()
        self._failing = False
        self._task = PeriodicTask(
            self.flush, interval=interval, name="llmopt-route-telemetry", run_first=False
        )

    def start(self) -> RouteTelemetry:
        self._task.start()
        return self

    def stop(self) -> None:
        self._task.stop()
        self.flush()

    def decided(self, decision: RouteDecision, *, served: str | None) -> None:
        record = RoutingDecisionRecord(
            at=decision.at,
            entry_key=served or decision.entry_key or "",
            reason=decision.reason,
            task=decision.profile.task.value,
            request_tokens=decision.profile.tokens,
            fallback_from=decision.entry_key if served and served != decision.entry_key else None,
            candidates=[c.as_dict() for c in decision.candidates],
        )
        with self._lock:
            self._decisions.append(record)

    def called(
        self,
        entry_key: str,
        *,
        latency_ms: float | None,
        error_class: str | None,
        cost_usd: float | None,
        tokens: int,
    ) -> None:
        """One call to ``entry_key``: counted here and in the performance book."""
        self.performance.record(
            entry_key, latency_ms=latency_ms, ok=error_class is None, cost_usd=cost_usd
        )
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
        timed = latency_ms is not None and error_class is None
        if latency_ms is not None and timed:
            buckets[bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)] = 1
        call = RouteStatsRollup(
            minute=minute,
            entry_key=entry_key,
            calls=1,
            errors={} if error_class is None else {error_class: 1},
            latency_ms_sum=latency_ms if latency_ms is not None and timed else 0.0,
            latency_buckets=buckets,
            cost_usd=cost_usd or 0.0,
            tokens=tokens,
        )
        with self._lock:
            earlier = self._stats.get((minute, entry_key))
            self._stats[(minute, entry_key)] = call if earlier is None else earlier + call

    def flush(self) -> None:
        """Write what is queued, then read the shared statistics (the thread calls this)."""
        with self._lock:
            decisions, self._decisions = self._decisions, []
            stats, self._stats = self._stats, {}
        rollups = list(stats.values())
        try:
            if decisions:
                self.store.add_routing_decisions(decisions)
            if rollups:
                self.store.add_route_stats(rollups)
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            shared = self.store.route_stats(
                start=now - SHARED_WINDOW, end=now + timedelta(minutes=1)
            )
        except LLMOptError as exc:
            if not self._failing:
                logger.warning("routing telemetry not written (store unavailable): %s", exc)
            self._failing = True
            return
        self._failing = False
        self.performance.merge_shared(_observations(shared))


def _observations(rows: list[RouteStatsRollup]) -> dict[str, SharedObservation]:
    by_entry: dict[str, list[RouteStatsRollup]] = defaultdict(list)
    for row in rows:
        by_entry[row.entry_key].append(row)
    result = {}
    for key, entry_rows in by_entry.items():
        total = RouteStatsRollup.fold(entry_rows, minute=entry_rows[0].minute, entry_key=key)
        result[key] = SharedObservation(
            calls=total.calls,
            errors=sum(total.errors.values()),
            p50_ms=total.latency_percentile(0.5),
            p95_ms=total.latency_percentile(0.95),
            cost_usd=total.cost_usd,
        )
    return result


_telemetry: PerStore[RouteTelemetry] = PerStore(RouteTelemetry)


def telemetry_for(store: Store) -> RouteTelemetry:
    """The process's running telemetry for ``store``."""
    return _telemetry(store).start()
