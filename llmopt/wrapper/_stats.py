"""Per-wrapper cache and cost figures, for ``OptimizedLLMWrapper.get_cache_stats()``."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from llmopt.caching import CachePlan
from llmopt.providers import TokenUsage

from ._tally import UsageTally


@dataclass(frozen=True, slots=True)
class CacheStats(Mapping[str, Any]):
    """What one wrapper has done since it was built; read it by attribute or by key.

    ``cache_hit_rate`` is the share of input tokens read from the cache. Tokens and
    ``cost_usd`` are what the provider billed (batched calls at the batch price); a
    call answered from a stored result was not billed again, so it adds only its
    ``baseline_cost_usd``, what it would have cost as a plain request. Costs are
    ``None`` when the model's price is unknown.

    The migration guide's fields describe the requests the cache planner saw, by its
    own token estimate: ``total_content_blocks`` in them, ``cached_blocks`` that
    carried a breakpoint (the caller's or the planner's), ``estimated_cached_tokens``
    under a breakpoint (the longest marked prefix of each request, summed), and
    ``cache_hit_potential``, the share of their ``estimated_input_tokens`` that a
    repeat could read from the cache. ``cache_hit_rate`` is what the provider actually
    read; the potential is what the breakpoints make possible.
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
    total_content_blocks: int = 0
    cached_blocks: int = 0
    estimated_input_tokens: int = 0
    estimated_cached_tokens: int = 0
    cache_hit_potential: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def __getitem__(self, key: str) -> Any:
        if key not in _FIELD_NAMES:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELD_NAMES)

    def __len__(self) -> int:
        return len(_FIELD_NAMES)


_FIELD_NAMES = tuple(field.name for field in fields(CacheStats))


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
        plan: CachePlan | None = None,
    ) -> None:
        kind = (usage.batch if usage is not None else False, reused)
        with self._lock:
            tally = self._tallies.get(kind)
            if tally is None:
                tally = self._tallies[kind] = UsageTally()
            tally.add(usage, optimized=optimized, error=error, fallback=fallback, plan=plan)

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
            total_content_blocks=calls.content_blocks,
            cached_blocks=calls.cached_blocks,
            estimated_input_tokens=calls.estimated_input_tokens,
            estimated_cached_tokens=calls.estimated_cached_tokens,
            cache_hit_potential=(
                calls.estimated_cached_tokens / calls.estimated_input_tokens
                if calls.estimated_input_tokens
                else 0.0
            ),
        )
