"""llmopt: prompt caching, Batch API routing, fallback and a kill switch for LangChain chat models.

The names below are the public surface; everything in a module whose name starts with
an underscore may change without notice. llmopt never imports Django.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmopt._secrets import redact
from llmopt.caching import CacheManager, CachePlan, PrefixMemory, plan_breakpoints
from llmopt.config import (
    AIConfigDocument,
    LLMEntry,
    OptimizationConfig,
    load_document,
    update_entry_flags,
)
from llmopt.errors import (
    BatchCanceled,
    BatchError,
    BudgetExceeded,
    ConfigError,
    ConflictError,
    FieldProblem,
    LLMOptError,
    MigrationError,
    NoEligibleEntry,
    NoHealthyEntry,
    OptimizationError,
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

if TYPE_CHECKING:
    from llmopt.chunking import SemanticChunker
    from llmopt.failover import FailoverHandler
    from llmopt.orchestration import MultiLLMOrchestrator
    from llmopt.prompts import PromptEngineer
    from llmopt.quality import LLMQualityMonitor
    from llmopt.responses import LLMCacheLayer
    from llmopt.retrieval import ContextRetriever
    from llmopt.routing import LLMRouter, RoutedChatModel, get_routed_model
    from llmopt.store import ArangoStore
    from llmopt.tokens import TokenCounter
    from llmopt.wrapper import (
        CacheStats,
        FlagWatcher,
        OptimizedLLMWrapper,
        UsageRecorder,
        get_generator_model,
    )

# The wrapper imports LangChain, which takes a while; code that only reads or edits the
# configuration (the console, the migration) should not pay for it, so it loads on use.
_LAZY = {"CacheStats", "FlagWatcher", "OptimizedLLMWrapper", "UsageRecorder", "get_generator_model"}

# The LLM layer (routing, failover, token counting, the response cache, prompts,
# orchestration, quality) loads on use for the same reason.
_LAZY_LAYER = {
    "ContextRetriever": "llmopt.retrieval",
    "FailoverHandler": "llmopt.failover",
    "LLMCacheLayer": "llmopt.responses",
    "LLMQualityMonitor": "llmopt.quality",
    "LLMRouter": "llmopt.routing",
    "MultiLLMOrchestrator": "llmopt.orchestration",
    "PromptEngineer": "llmopt.prompts",
    "RoutedChatModel": "llmopt.routing",
    "SemanticChunker": "llmopt.chunking",
    "TokenCounter": "llmopt.tokens",
    "get_routed_model": "llmopt.routing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from llmopt import wrapper

        return getattr(wrapper, name)
    if name in _LAZY_LAYER:
        import importlib

        return getattr(importlib.import_module(_LAZY_LAYER[name]), name)
    if name == "ArangoStore":  # python-arango (the arango extra) loads on use
        from llmopt import store

        return store.ArangoStore
    raise AttributeError(f"module 'llmopt' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "AIConfigDocument",
    "ArangoStore",
    "AuditEvent",
    "AuditRecord",
    "BatchCanceled",
    "BatchError",
    "BatchRecord",
    "BatchStatus",
    "BudgetExceeded",
    "CacheManager",
    "CachePlan",
    "CacheStats",
    "CallCost",
    "ConfigError",
    "ConflictError",
    "ContextRetriever",
    "Document",
    "DocumentName",
    "FailoverHandler",
    "FieldProblem",
    "FlagWatcher",
    "KillSwitchState",
    "LLMCacheLayer",
    "LLMEntry",
    "LLMOptError",
    "LLMQualityMonitor",
    "LLMRouter",
    "MigrationError",
    "MigrationReport",
    "MultiLLMOrchestrator",
    "NoEligibleEntry",
    "NoHealthyEntry",
    "OptimizationConfig",
    "OptimizationError",
    "OptimizedLLMWrapper",
    "PrefixMemory",
    "PromptEngineer",
    "ProviderCapabilities",
    "ProviderError",
    "RecordNotFound",
    "RoutedChatModel",
    "SQLiteStore",
    "SemanticChunker",
    "Store",
    "StoreError",
    "StoredResult",
    "TokenCounter",
    "TokenUsage",
    "UsageRecorder",
    "UsageRollup",
    "cost_of",
    "engage_kill_switch",
    "get_generator_model",
    "get_routed_model",
    "load_document",
    "migrate",
    "open_store",
    "plan_breakpoints",
    "read_kill_switch",
    "redact",
    "release_kill_switch",
    "reverse_migration",
    "store_from_env",
    "update_entry_flags",
]
