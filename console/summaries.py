"""Short descriptions of configuration state, shared by pages, the API and commands."""

from __future__ import annotations

from llmopt.config import LLMEntry


def optimization_summary(entry: LLMEntry) -> str:
    """What optimization this entry gets, in a few words."""
    config = entry.config
    if config is None:
        return "none (invalid entry)"
    parts = []
    if config.applies_caching:
        parts.append(f"caching ({config.cache_ttl // 60} min)")
    if config.applies_batching:
        parts.append(f"batching (≤{config.batch_max_size:,} / {config.batch_timeout} s)")
    return " + ".join(parts) or "off"
