"""Read the older nested optimization form and split a configuration into flags and other fields.

Older configs hold the flags in one nested block::

    {"optimization": {"enabled": true, "strategy": "auto", "provider": "anthropic",
                      "cache": {"enabled": true, "ttl": "1h", "breakpoints": "auto"},
                      "batch": {"enabled": false, "maxSize": 5000, "timeout": 60},
                      "fallback": {"enabled": true}}}

It is read, never written: :func:`normalise_legacy` maps it onto the flat flags. Flat
fields win where both forms are given. Keys of the block that the mapping does not know
are kept, in a block of the same shape, so a write-back loses nothing. A block that
enables caching or batching without saying ``enabled`` turns the master switch on,
because the older form had no master switch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt.errors import FieldProblem

LEGACY_KEY = "optimization"

FLAT_FLAGS = frozenset(
    {
        "optimizationEnabled",
        "batchingEnabled",
        "batchMaxSize",
        "batchTimeout",
        "cachingEnabled",
        "cacheTTL",
        "cacheBreakpoints",
        "fallbackToStandard",
        "optimizationStrategy",
    }
)

_TOP_LEVEL = {"enabled": "optimizationEnabled", "strategy": "optimizationStrategy"}
_SECTIONS: dict[str, dict[str, str]] = {
    "cache": {"enabled": "cachingEnabled", "ttl": "cacheTTL", "breakpoints": "cacheBreakpoints"},
    "batch": {"enabled": "batchingEnabled", "maxSize": "batchMaxSize", "timeout": "batchTimeout"},
    "fallback": {"enabled": "fallbackToStandard", "toStandard": "fallbackToStandard"},
}
_TTL_NAMES = {"5m": 300, "1h": 3600}


def normalise_legacy(
    configuration: Mapping[Any, Any], *, provider: str | None
) -> tuple[dict[str, Any], dict[Any, Any], list[FieldProblem]]:
    """Split ``configuration`` into (flags in flat form, other fields, problems found)."""
    flags = {k: v for k, v in configuration.items() if k in FLAT_FLAGS}
    others = {k: v for k, v in configuration.items() if k not in FLAT_FLAGS and k != LEGACY_KEY}
    problems: list[FieldProblem] = []
    if LEGACY_KEY not in configuration:
        return flags, others, problems

    block = configuration[LEGACY_KEY]
    if not isinstance(block, Mapping):
        problems.append(
            FieldProblem(
                LEGACY_KEY, "optimization must be an object holding the older nested flags"
            )
        )
        return flags, others, problems

    legacy: dict[str, Any] = {}
    leftover: dict[Any, Any] = {}
    for key, value in block.items():
        if key in _TOP_LEVEL:
            legacy[_TOP_LEVEL[key]] = value
        elif key == "provider":
            if provider is not None and value != provider:
                problems.append(
                    FieldProblem(
                        "optimization.provider",
                        f"optimization.provider is {value!r} but this entry's provider is "
                        f"{provider!r}; remove it or make them agree",
                    )
                )
        elif key in _SECTIONS:
            if not isinstance(value, Mapping):
                problems.append(
                    FieldProblem(f"optimization.{key}", f"optimization.{key} must be an object")
                )
                continue
            rest = _read_section(_SECTIONS[key], value, legacy)
            if rest:
                leftover[key] = rest
        else:
            leftover[key] = value

    if "optimizationEnabled" not in legacy and (
        legacy.get("cachingEnabled") is True or legacy.get("batchingEnabled") is True
    ):
        legacy["optimizationEnabled"] = True
    if isinstance(legacy.get("cacheTTL"), str):
        legacy["cacheTTL"] = _TTL_NAMES.get(legacy["cacheTTL"], legacy["cacheTTL"])

    for name, value in legacy.items():
        flags.setdefault(name, value)
    if leftover:
        others[LEGACY_KEY] = leftover
    return flags, others, problems


def _read_section(
    mapping: dict[str, str], section: Mapping[Any, Any], legacy: dict[str, Any]
) -> dict[Any, Any]:
    rest: dict[Any, Any] = {}
    for key, value in section.items():
        flag = mapping.get(key) if isinstance(key, str) else None
        if flag is None:
            rest[key] = value
        else:
            legacy.setdefault(flag, value)
    return rest
