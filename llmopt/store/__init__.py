"""Persistence for llmopt: one ``Store`` protocol, an SQLite and an ArangoDB adapter.

Code depends on ``Store`` and gets one from ``store_from_env()`` (services) or
``open_store(url)`` (tools, tests). Both adapters pass the same contract tests.
"""

from __future__ import annotations

from llmopt.store._arango import ArangoCollections, ArangoStore
from llmopt.store._open import open_store, store_from_env
from llmopt.store._protocol import Store
from llmopt.store._records import (
    BATCHES_IN_FLIGHT,
    USAGE_COUNTERS,
    AuditEvent,
    AuditMatch,
    AuditRecord,
    BatchCancel,
    BatchRecord,
    BatchStatus,
    Document,
    DocumentName,
    StoredResult,
    UsageBucket,
    UsageRollup,
)
from llmopt.store._sqlite import SQLiteStore

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
    "Document",
    "DocumentName",
    "SQLiteStore",
    "Store",
    "StoredResult",
    "USAGE_COUNTERS",
    "UsageBucket",
    "UsageRollup",
    "open_store",
    "store_from_env",
]
