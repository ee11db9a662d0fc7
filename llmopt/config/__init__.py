"""The optimization configuration: flags, validation, the aiconfigs document and edits to it."""

from __future__ import annotations

from ._capability_rules import capability_hints
from ._document import AIConfigDocument, LLMEntry
from ._edit import ACTION_UPDATE, load_document, update_entry_flags
from ._messages import FIELD_RULES, problems_from_validation_error
from ._schema import (
    FLAG_NAMES,
    CacheBreakpoints,
    CacheTTL,
    OptimizationConfig,
    OptimizationStrategy,
)

__all__ = [
    "ACTION_UPDATE",
    "FIELD_RULES",
    "FLAG_NAMES",
    "AIConfigDocument",
    "CacheBreakpoints",
    "CacheTTL",
    "LLMEntry",
    "OptimizationConfig",
    "OptimizationStrategy",
    "capability_hints",
    "load_document",
    "problems_from_validation_error",
    "update_entry_flags",
]
