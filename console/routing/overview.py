"""What routing looks like now, for the Routing page and ``/api/routing``: each entry's
circuit, its last hour of statistics, and the recent incidents and decisions."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from llmopt.config import AIConfigDocument
from llmopt.errors import ConfigError
from llmopt.routing import RoutingSettings
from llmopt.store import CircuitRecord, CircuitState, RouteStatsRollup, Store

STATS_WINDOW = timedelta(hours=1)
INCIDENTS_SHOWN = 20
DECISIONS_SHOWN = 30


@dataclass(frozen=True, slots=True)
class EntryCircuit:
    """One entry's circuit as people read it; a never-stored circuit is closed."""

    entry_key: str
    state: str
    forced: str | None
    failures: int
    retry_at: datetime | None
    reason: str
    updated_at: datetime | None

    @property
    def label(self) -> str:
        """``closed``, ``open`` or ``half-open``, with ``(forced)`` when an operator said so."""
        shown = self.state.replace("_", "-")
        return f"{shown} (forced)" if self.forced else shown


@dataclass(frozen=True, slots=True)
class EntryStats:
    """One entry's calls over the statistics window."""

    entry_key: str
    calls: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    cost_usd: float

    @property
    def error_rate(self) -> float | None:
        return None if self.calls == 0 else self.errors / self.calls

    @property
    def cost_per_request(self) -> float | None:
        return None if self.calls == 0 else self.cost_usd / self.calls


def routing_settings(document: AIConfigDocument) -> tuple[RoutingSettings, list[str]]:
    """The document's routing settings, or the defaults and why the stored ones cannot be read."""
    keys = [entry.key for entry in document.entries]
    try:
        return RoutingSettings.from_dict(document.body.get("routing"), entry_keys=keys), []
    except ConfigError as exc:
        return RoutingSettings(), [problem.message for problem in exc.problems]


def stored_routing(document: AIConfigDocument) -> dict[str, Any]:
    """The ``routing`` object as stored (``{}`` when there is none, or it is not an object)."""
    raw = document.body.get("routing")
    return dict(raw) if isinstance(raw, dict) else {}


def entry_circuits(store: Store, entry_keys: list[str]) -> list[EntryCircuit]:
    """Every entry's circuit, in document order, then any stored for entries since removed."""
    stored = store.circuits()
    keys = entry_keys + sorted(set(stored) - set(entry_keys))
    return [_circuit(key, stored.get(key)) for key in keys]


def _circuit(key: str, record: CircuitRecord | None) -> EntryCircuit:
    if record is None:
        return EntryCircuit(key, CircuitState.CLOSED.value, None, 0, None, "", None)
    return EntryCircuit(
        entry_key=key,
        state=record.state.value,
        forced=record.forced,
        failures=record.failures,
        retry_at=record.retry_at,
        reason=record.reason,
        updated_at=record.updated_at,
    )


def entry_stats(store: Store, now: datetime, entry_keys: list[str]) -> list[EntryStats]:
    """Each entry's calls, errors, p50/p95 latency and cost over the last hour (entries
    without calls too, with zeros), summed from the per-minute roll-ups."""
    by_entry: dict[str, list[RouteStatsRollup]] = defaultdict(list)
    end = now + timedelta(minutes=1)  # the current minute is still filling
    for rollup in store.route_stats(start=now - STATS_WINDOW, end=end):
        by_entry[rollup.entry_key].append(rollup)
    keys = entry_keys + sorted(set(by_entry) - set(entry_keys))
    stats = []
    for key in keys:
        total = RouteStatsRollup.fold(by_entry.get(key, []), minute=now, entry_key=key)
        stats.append(
            EntryStats(
                entry_key=key,
                calls=total.calls,
                errors=total.error_count,
                p50_ms=_finite(total.latency_percentile(0.5)),
                p95_ms=_finite(total.latency_percentile(0.95)),
                cost_usd=total.cost_usd,
            )
        )
    return stats


def _finite(value: float | None) -> float | None:
    """A percentile past the last latency bucket has no upper bound to show."""
    return None if value is None or math.isinf(value) else value
