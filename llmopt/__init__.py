"""llmopt: prompt caching, Batch API routing, fallback and a kill switch for LangChain chat models.

The names below are the public surface; everything in a module whose name starts with
an underscore may change without notice. llmopt never imports Django.
"""

from __future__ import annotations

from llmopt.config import (
    AIConfigDocument,
    LLMEntry,
    OptimizationConfig,
    load_document,
    update_entry_flags,
)
from llmopt.errors import (
    ConfigError,
    ConflictError,
    FieldProblem,
    LLMOptError,
    MigrationError,
    ProviderError,
    RecordNotFound,
    StoreError,
)
from llmopt.killswitch import (
    KillSwitchState,
    engage_kill_switch,
    read_kill_switch,
    release_kill_switch,
)
from llmopt.migrate import MigrationReport, migrate, reverse_migration
from llmopt.providers import CallCost, ProviderCapabilities, TokenUsage, cost_of
from llmopt.store import (
    ArangoStore,
    AuditEvent,
    AuditRecord,
    BatchRecord,
    BatchStatus,
    Document,
    DocumentName,
    SQLiteStore,
    Store,
    StoredResult,
    UsageRollup,
    open_store,
    store_from_env,
)

__version__ = "0.1.0"

__all__ = [
    "AIConfigDocument",
    "ArangoStore",
    "AuditEvent",
    "AuditRecord",
    "BatchRecord",
    "BatchStatus",
    "CallCost",
    "ConfigError",
    "ConflictError",
    "Document",
    "DocumentName",
    "FieldProblem",
    "KillSwitchState",
    "LLMEntry",
    "LLMOptError",
    "MigrationError",
    "MigrationReport",
    "OptimizationConfig",
    "ProviderCapabilities",
    "ProviderError",
    "RecordNotFound",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoredResult",
    "TokenUsage",
    "UsageRollup",
    "cost_of",
    "engage_kill_switch",
    "load_document",
    "migrate",
    "open_store",
    "read_kill_switch",
    "release_kill_switch",
    "reverse_migration",
    "store_from_env",
    "update_entry_flags",
]
