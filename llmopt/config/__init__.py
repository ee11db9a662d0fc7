"""The optimization configuration: flags, validation, the aiconfigs document and edits to it."""

from __future__ import annotations

from ._capability_rules import capability_hints
from ._document import AIConfigDocument, LLMEntry
from ._edit import ACTION_UPDATE, entry_with_flags, load_document, update_entry_flags
from ._messages import FIELD_RULES, problems_from_validation_error
from ._schema import (
    FLAG_NAMES,
    CacheBreakpoints,
    CacheTTL,
    OptimizationConfig,
    OptimizationStrategy,
)
from ._sections import ConfigSection

__all__ = [
    "ACTION_UPDATE",
    "FIELD_RULES",
    "FLAG_NAMES",
    "AIConfigDocument",
    "CacheBreakpoints",
    "CacheTTL",
    "ConfigSection",
    "LLMEntry",
    "OptimizationConfig",
    "OptimizationStrategy",
    "capability_hints",
    "entry_with_flags",
    "load_document",
    "problems_from_validation_error",
    "update_entry_flags",
]
