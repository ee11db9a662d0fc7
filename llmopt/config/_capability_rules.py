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
    and a value left at its default never blocks a save. With caching on, a provider
    that caches by itself refuses every caching setting it would ignore.
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
        elif caps.caching == "automatic":
            problems.extend(_ignored_by_automatic_caching(config, provider))
        elif caps.cache_ttls and config.cache_ttl not in (*caps.cache_ttls, "auto"):
            offered = " or ".join(str(ttl) for ttl in caps.cache_ttls)
            problems.append(
                FieldProblem(
                    "cacheTTL",
                    f"cacheTTL must be {offered} seconds for {provider}; "
                    "it offers no other lifetime",
                )
            )
    return problems


def _ignored_by_automatic_caching(config: OptimizationConfig, provider: str) -> list[FieldProblem]:
    """The caching flags a provider that caches by itself would ignore, unless at their
    defaults: a setting that cannot take effect is refused, never saved as a silent no-op
    (as batching is on a provider without a Batch API)."""
    why = f"{provider} caches repeated prefixes automatically"
    problems: list[FieldProblem] = []
    if config.cache_ttl != 300:
        problems.append(
            FieldProblem(
                "cacheTTL",
                f"cacheTTL cannot be {config.cache_ttl} for {provider}: {why}, with a "
                "lifetime of its own; leave it at 300 (the default)",
            )
        )
    if config.cache_system_ttl is not None:
        problems.append(
            FieldProblem(
                "cacheSystemTTL",
                f"cacheSystemTTL cannot be set for {provider}: {why}, with a lifetime of "
                "its own; leave it unset (null)",
            )
        )
    if config.cache_breakpoints != "auto":
        problems.append(
            FieldProblem(
                "cacheBreakpoints",
                f"cacheBreakpoints cannot be '{config.cache_breakpoints}' for {provider}: "
                f"{why} and takes no breakpoints; leave it at 'auto' (the default)",
            )
        )
    if config.cache_min_tokens is not None:
        problems.append(
            FieldProblem(
                "cacheMinTokens",
                f"cacheMinTokens cannot be set for {provider}: {why} and decides by "
                "itself which are long enough; leave it unset (null)",
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
            f"{provider} caches repeated prefixes automatically: with caching on, leave "
            "the lifetimes, breakpoints and shortest prefix at their defaults (other "
            "values would have no effect, so they are refused)."
        )
    else:
        hints.append(f"{provider} offers no prompt caching.")
    return hints
