"""Per-wrapper cache and cost figures, for ``OptimizedLLMWrapper.get_cache_stats()``."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
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

    What caching wasted, by the cache planner's memory of what it wrote and what was
    read back (auto mode; 0 otherwise), priced like ``cost_usd``:

    ==========================  =====================================================
    field                       meaning
    ==========================  =====================================================
    ``unread_write_tokens``     tokens of cache writes (5 m and 1 h) that expired
                                without a read, counted when a later call finds them
    ``unread_write_cost_usd``   what writing those tokens cost, at the write price
    ``write_cost_usd``          what every cache write billed to these calls cost
    ``unread_write_share``      ``unread_write_cost_usd / write_cost_usd`` ("writes
                                never read: Y% of write spend"); 0.0 with no write
                                spend. A write is counted unread only once a later
                                call finds it expired, so the share lags the spend
    ``missed_read_tokens``      input tokens that a recent request had also sent but
                                that went out at full price, without a cache read
    ``missed_read_cost_usd``    what reading those from the cache would have saved:
                                the tokens at the input price less the read price
    ==========================  =====================================================

    Those costs and the share are ``None`` when the model's price is unknown.
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
    unread_write_tokens: int = 0
    unread_write_cost_usd: float | None = 0.0
    write_cost_usd: float | None = 0.0
    unread_write_share: float | None = 0.0
    missed_read_tokens: int = 0
    missed_read_cost_usd: float | None = 0.0

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
        bills = []
        for (batch, reused), tally in tallies.items():
            calls.merge(tally)
            bill = tally.bill(batch=batch, reused=reused, provider=provider, model=model)
            usage = usage + replace(bill.usage, batch=False)  # tokens alike, whatever the price
            bills.append(bill)
        cost, baseline, write, unread, missed = (
            _sum(getattr(bill, name) for bill in bills)
            for name in ("cost", "baseline", "write_cost", "unread_write_cost", "missed_read_cost")
        )
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
            cost_usd=_usd(cost),
            baseline_cost_usd=_usd(baseline),
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
            unread_write_tokens=calls.unread_write_tokens_5m + calls.unread_write_tokens_1h,
            unread_write_cost_usd=_usd(unread),
            write_cost_usd=_usd(write),
            unread_write_share=_share(unread, write),
            missed_read_tokens=calls.missed_read_tokens,
            missed_read_cost_usd=_usd(missed),
        )


def _sum(costs: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of ``costs``, or ``None`` if any is unknown."""
    total = Decimal(0)
    for cost in costs:
        if cost is None:
            return None
        total += cost
    return total


def _usd(cost: Decimal | None) -> float | None:
    return None if cost is None else float(cost)


def _share(part: Decimal | None, whole: Decimal | None) -> float | None:
    if part is None or whole is None:
        return None
    return float(part / whole) if whole else 0.0
