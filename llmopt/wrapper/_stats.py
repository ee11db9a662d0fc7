"""Per-wrapper cache and cost figures, for ``OptimizedLLMWrapper.get_cache_stats()``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from llmopt.providers import TokenUsage

from ._tally import UsageTally


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What one wrapper has done since it was built.

    ``cache_hit_rate`` is the share of input tokens read from the cache. Tokens and
    ``cost_usd`` are what the provider billed (batched calls at the batch price); a
    call answered from a stored result was not billed again, so it adds only its
    ``baseline_cost_usd``, what it would have cost as a plain request. Costs are
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
    """Thread-safe running totals behind :class:`CacheStats`.

    Calls are kept apart by how they are priced: standard or batch, billed or reused.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[tuple[bool, bool], UsageTally] = {}

    def add(
        self,
        usage: TokenUsage | None,
        *,
        optimized: bool,
        fallback: bool,
        error: bool,
        reused: bool = False,
    ) -> None:
        kind = (usage.batch if usage is not None else False, reused)
        with self._lock:
            tally = self._tallies.get(kind)
            if tally is None:
                tally = self._tallies[kind] = UsageTally()
            tally.add(usage, optimized=optimized, error=error, fallback=fallback)

    def snapshot(self, *, provider: str, model: str) -> CacheStats:
        with self._lock:
            tallies = {kind: tally.copy() for kind, tally in self._tallies.items()}
        tallies.setdefault((False, False), UsageTally())  # priced even before any call
        calls = UsageTally()
        usage = TokenUsage(input_tokens=0)
        cost: Decimal | None = Decimal(0)
        baseline: Decimal | None = Decimal(0)
        for (batch, reused), tally in tallies.items():
            calls.merge(tally)
            bill = tally.bill(batch=batch, reused=reused, provider=provider, model=model)
            usage = usage + replace(bill.usage, batch=False)  # tokens alike, whatever the price
            if bill.cost is None or bill.baseline is None or cost is None or baseline is None:
                cost = baseline = None
            else:
                cost += bill.cost
                baseline += bill.baseline
        total_input = usage.total_input_tokens
        return CacheStats(
            calls=calls.calls,
            optimized_calls=calls.optimized_calls,
            fallbacks=calls.fallbacks,
            errors=calls.errors,
            input_tokens=usage.input_tokens,
            cache_write_tokens=usage.cache_write_5m_tokens + usage.cache_write_1h_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            output_tokens=usage.output_tokens,
            cache_hit_rate=usage.cache_read_tokens / total_input if total_input else 0.0,
            cost_usd=None if cost is None else float(cost),
            baseline_cost_usd=None if baseline is None else float(baseline),
            savings_usd=None if cost is None or baseline is None else float(baseline - cost),
        )
