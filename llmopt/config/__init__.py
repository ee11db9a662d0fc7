"""The optimization configuration: flags, validation, the aiconfigs document and edits to it."""

from __future__ import annotations

from ._capability_rules import capability_hints
from ._document import AIConfigDocument, LLMEntry
from ._edit import (
    ACTION_UPDATE,
    entry_with_flags,
    load_document,
    save_document_section,
    save_entry_field,
    update_entry_flags,
)
from ._free_text import (
    NAME_MAX_LENGTH,
    REASON_MAX_LENGTH,
    REFUSED_CHARACTERS_PATTERN,
    check_free_text,
    check_reason,
    free_text_problem,
)
from ._messages import FIELD_RULES, problems_from_validation_error
from ._schema import (
    FLAG_NAMES,
    CacheBreakpoints,
    CacheTTL,
    CacheTTLChoice,
    OptimizationConfig,
    OptimizationStrategy,
)
from ._sections import ConfigSection

__all__ = [
    "ACTION_UPDATE",
    "FIELD_RULES",
    "FLAG_NAMES",
    "NAME_MAX_LENGTH",
    "REASON_MAX_LENGTH",
    "REFUSED_CHARACTERS_PATTERN",
    "AIConfigDocument",
    "CacheBreakpoints",
    "CacheTTL",
    "CacheTTLChoice",
    "ConfigSection",
    "LLMEntry",
    "OptimizationConfig",
    "OptimizationStrategy",
    "capability_hints",
    "check_free_text",
    "check_reason",
    "entry_with_flags",
    "free_text_problem",
    "load_document",
    "problems_from_validation_error",
    "save_document_section",
    "save_entry_field",
    "update_entry_flags",
]
