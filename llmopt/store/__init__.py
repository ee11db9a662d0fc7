"""Persistence for llmopt: one ``Store`` protocol, an SQLite and an ArangoDB adapter.

Code depends on ``Store`` and gets one from ``store_from_env()`` (services) or
``open_store(url)`` (tools, tests). Both adapters pass the same contract tests.

A driver loads when its store is first used: ``ArangoStore`` (and ``ArangoCollections``)
import python-arango, the ``arango`` extra (``pip install 'llmopt[arango]'``), on first
access, so a process on SQLite never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmopt.store._open import open_store, store_from_env
from llmopt.store._protocol import Store
from llmopt.store._records import (
    BATCHES_IN_FLIGHT,
    LATENCY_BUCKETS_MS,
    PLANNER_STATE_KEPT,
    RECENT_PLANS_KEPT,
    ROUTING_DECISIONS_KEPT,
    USAGE_COUNTERS,
    AuditEvent,
    AuditMatch,
    AuditRecord,
    BatchCancel,
    BatchRecord,
    BatchStatus,
    BudgetAlert,
    BudgetSpend,
    CircuitRecord,
    CircuitState,
    Document,
    DocumentName,
    IncidentRecord,
    PlanBreakpoint,
    PlannerState,
    PlanRecord,
    QualityAlert,
    QualityRollup,
    RouteStatsRollup,
    RoutingDecisionRecord,
    StoredResult,
    UsageBucket,
    UsageRollup,
    latency_bucket,
)
from llmopt.store._sqlite import SQLiteStore

if TYPE_CHECKING:
    from llmopt.store._arango import ArangoCollections, ArangoStore


def __getattr__(name: str) -> Any:
    if name in ("ArangoCollections", "ArangoStore"):
        from llmopt.store import _arango

        return getattr(_arango, name)
    raise AttributeError(f"module 'llmopt.store' has no attribute {name!r}")


__all__ = [
    "BATCHES_IN_FLIGHT",
    "ArangoCollections",
    "ArangoStore",
    "AuditEvent",
    "AuditMatch",
    "AuditRecord",
    "BatchCancel",
    "BatchRecord",
    "BatchStatus",
    "BudgetAlert",
    "BudgetSpend",
    "CircuitRecord",
    "CircuitState",
    "Document",
    "DocumentName",
    "IncidentRecord",
    "LATENCY_BUCKETS_MS",
    "PlanBreakpoint",
    "PlanRecord",
    "PlannerState",
    "PLANNER_STATE_KEPT",
    "QualityAlert",
    "QualityRollup",
    "RECENT_PLANS_KEPT",
    "ROUTING_DECISIONS_KEPT",
    "RouteStatsRollup",
    "RoutingDecisionRecord",
    "SQLiteStore",
    "Store",
    "StoredResult",
    "USAGE_COUNTERS",
    "UsageBucket",
    "UsageRollup",
    "latency_bucket",
    "open_store",
    "store_from_env",
]
