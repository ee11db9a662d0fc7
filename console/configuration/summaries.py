"""Short descriptions of configuration state, shared by pages, the API and commands."""

from __future__ import annotations

from llmopt.config import FLAG_NAMES, LLMEntry

BLOCK = "optimization"
"""The migration guide's nested block, inside an entry's configuration or beside it."""


def optimization_summary(entry: LLMEntry) -> str:
    """What optimization this entry gets, in a few words."""
    config = entry.config
    if config is None:
        return "none (invalid entry)"
    parts = []
    if config.applies_caching:
        ttl = config.cache_ttl
        details = ["lifetime by re-use gaps" if ttl == "auto" else f"{ttl // 60} min"]
        system = config.cache_system_ttl
        if system is not None and system != ttl:
            details.append(f"tools and system {system // 60} min")
        if config.cache_min_tokens is not None:
            details.append(f"prefixes ≥{config.cache_min_tokens:,} tokens")
        parts.append(f"caching ({', '.join(details)})")
    if config.applies_batching:
        parts.append(f"batching (≤{config.batch_max_size:,} / {config.batch_timeout} s)")
    return " + ".join(parts) or "off"


def flag_places(entry: LLMEntry) -> list[str]:
    """Where the entry keeps its flags, as the stored JSON names them; edits write there."""
    configuration = entry.configuration or {}
    places = []
    if any(name in configuration for name in FLAG_NAMES):
        places.append("configuration")
    if BLOCK in configuration:
        places.append(f"configuration.{BLOCK}")
    if entry.optimization is not None:
        places.append(BLOCK)
    return places
