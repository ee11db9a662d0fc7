"""The design documents' module functions over the capability registry.

``capabilities.py`` of the Phase 1 plan offered four functions beside
``ProviderCapabilities.detect``; they answer from the same registry, nothing more.
"""

from __future__ import annotations

from typing import Any

from llmopt.providers._capabilities import ProviderCapabilities


def supports_batching(provider: str, model: str | None = None) -> bool:
    """Whether ``provider`` (and ``model``) has a Batch API llmopt can route work to."""
    return ProviderCapabilities.detect(provider, model).supports_batching


def supports_caching(provider: str, model: str | None = None) -> bool:
    """Whether ``provider`` (and ``model``) caches prompts, explicitly or automatically."""
    return ProviderCapabilities.detect(provider, model).supports_caching


def get_batch_limits(provider: str, model: str | None = None) -> dict[str, int]:
    """The Batch API's limits: ``max_requests``, ``window_hours`` and, where known,
    ``max_bytes``; ``{}`` when the provider has no Batch API."""
    batch = ProviderCapabilities.detect(provider, model).batch
    if batch is None:
        return {}
    limits = {"max_requests": batch.max_requests, "window_hours": batch.window_hours}
    if batch.max_bytes is not None:
        limits["max_bytes"] = batch.max_bytes
    return limits


def get_cache_config(provider: str, model: str | None = None) -> dict[str, Any]:
    """How the provider caches prompts, as plain values.

    ``marker_type`` is ``"explicit"`` (requests carry breakpoints), ``"automatic"``
    or ``None``; ``ttls`` the lifetimes offered (seconds) and ``default_ttl`` the one
    used without asking; ``max_breakpoints``, ``min_cacheable_tokens`` (``None`` when
    not known), and the write and read prices relative to base input.
    """
    caps = ProviderCapabilities.detect(provider, model)
    return {
        "marker_type": caps.cache_marker_type,
        "ttls": list(caps.cache_ttls),
        "default_ttl": caps.cache_ttl_default,
        "max_breakpoints": caps.max_cache_breakpoints,
        "min_cacheable_tokens": caps.min_cacheable_tokens,
        "write_multipliers": dict(caps.cache_write_multipliers),
        "read_multiplier": caps.cache_read_multiplier,
    }
