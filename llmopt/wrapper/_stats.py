"""Per-wrapper cache and cost figures, for ``OptimizedLLMWrapper.get_cache_stats()``."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from llmopt.providers import TokenUsage, cost_of

from ._tally import UsageTally


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What one wrapper has done since it was built.

    ``cache_hit_rate`` is the share of input tokens read from the cache. Costs are
    ``None`` when the model's price is unknown.
    """

    calls: int
    optimized_calls: int
    fallbacks: int
    errors: int
    input_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cache_hit_rate: float
    cost_usd: float | None
    baseline_cost_usd: float | None
    savings_usd: float | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class StatsCounter:
    """Thread-safe running totals behind :class:`CacheStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tally = UsageTally()

    def add(
        self, usage: TokenUsage | None, *, optimized: bool, fallback: bool, error: bool
    ) -> None:
        with self._lock:
            self._tally.add(usage, optimized=optimized, error=error, fallback=fallback)

    def snapshot(self, *, provider: str, model: str) -> CacheStats:
        with self._lock:
            tally = UsageTally()
            tally.merge(self._tally)
        usage = tally.usage()
        cost = cost_of(usage, provider=provider, model=model)
        total_input = usage.total_input_tokens
        return CacheStats(
            calls=tally.calls,
            optimized_calls=tally.optimized_calls,
            fallbacks=tally.fallbacks,
            errors=tally.errors,
            input_tokens=usage.input_tokens,
            cache_write_tokens=usage.cache_write_5m_tokens + usage.cache_write_1h_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            output_tokens=usage.output_tokens,
            cache_hit_rate=usage.cache_read_tokens / total_input if total_input else 0.0,
            cost_usd=float(cost.total) if cost else None,
            baseline_cost_usd=float(cost.baseline) if cost else None,
            savings_usd=float(cost.savings) if cost else None,
        )
