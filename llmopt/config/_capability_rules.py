"""Check flags against what the entry's provider (and model) actually offer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmopt.errors import FieldProblem
from llmopt.providers import ProviderCapabilities

if TYPE_CHECKING:
    from ._schema import OptimizationConfig


def capability_problems(
    config: OptimizationConfig, *, provider: str, model: str | None
) -> list[FieldProblem]:
    """Every flag that asks for something the provider or model cannot do.

    Only flags that are switched on are judged: turning a feature off is always allowed,
    and a value left at its default never blocks a save.
    """
    caps = ProviderCapabilities.detect(provider, model)
    wants_any = config.optimization_enabled or config.batching_enabled or config.caching_enabled
    if not caps.known:
        if wants_any:
            return [FieldProblem("provider", f"{caps.reason}; switch its optimization off")]
        return []
    general = ProviderCapabilities.detect(provider)
    if (
        wants_any
        and not caps.optimizable
        and (general.optimizable or caps.reason != general.reason)
    ):
        # The provider can be optimized, just not this model.
        return [FieldProblem("model", f"{caps.reason}; switch its optimization off")]

    problems: list[FieldProblem] = []
    if config.batching_enabled:
        if caps.batch is None:
            why = caps.reason or f"{provider} has no Batch API, so its requests cannot be batched"
            problems.append(FieldProblem("batchingEnabled", f"batchingEnabled cannot be on: {why}"))
        elif config.batch_max_size > caps.batch.max_requests:
            problems.append(
                FieldProblem(
                    "batchMaxSize",
                    f"batchMaxSize must be at most {caps.batch.max_requests:,} for {provider}, "
                    f"the most its Batch API takes in one batch (got {config.batch_max_size:,})",
                )
            )
    if config.caching_enabled:
        if caps.caching == "none":
            why = caps.reason or f"{provider} offers no prompt caching"
            problems.append(FieldProblem("cachingEnabled", f"cachingEnabled cannot be on: {why}"))
        elif caps.cache_ttls and config.cache_ttl not in caps.cache_ttls:
            offered = " or ".join(str(ttl) for ttl in caps.cache_ttls)
            problems.append(
                FieldProblem(
                    "cacheTTL",
                    f"cacheTTL must be {offered} seconds for {provider}; "
                    "it offers no other lifetime",
                )
            )
    return problems


def capability_hints(provider: str, model: str | None) -> list[str]:
    """What this provider (and model) support, as short sentences for the edit form."""
    caps = ProviderCapabilities.detect(provider, model)
    if not caps.optimizable:
        return [caps.reason or f"{provider} offers nothing llmopt can optimize"]
    hints: list[str] = []
    if caps.batch is None:
        hints.append(f"{provider} has no Batch API: batching is unavailable.")
    else:
        hints.append(
            f"Batch API: up to {caps.batch.max_requests:,} requests per batch, "
            f"{(1 - caps.batch.discount):.0%} off, results within {caps.batch.window_hours} h."
        )
    if caps.caching == "explicit":
        ttls = " or ".join(
            f"{ttl // 3600} h" if ttl % 3600 == 0 else f"{ttl // 60} min" for ttl in caps.cache_ttls
        )
        minimum = (
            f" Prefixes under {caps.min_cacheable_tokens:,} tokens are not cached."
            if caps.min_cacheable_tokens
            else ""
        )
        hints.append(
            f"Prompt caching with up to {caps.max_cache_breakpoints} breakpoints, lifetime "
            f"{ttls}.{minimum}"
        )
    elif caps.caching == "automatic":
        hints.append(
            f"{provider} caches repeated prefixes automatically: breakpoint and TTL "
            "settings have no effect."
        )
    else:
        hints.append(f"{provider} offers no prompt caching.")
    return hints
