"""Running totals of calls and tokens, shared by the per-wrapper stats and the usage recorder."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

from llmopt.caching import CachePlan
from llmopt.providers import TokenUsage, cost_of


@dataclass(frozen=True, slots=True)
class Bill:
    """What a tally's calls were billed (``usage``, ``cost``) and would have cost plain
    (``baseline``), and what caching wasted: ``write_cost``, what their cache writes
    cost; ``unread_write_cost``, what the writes found expired unread had cost to write;
    ``missed_read_cost``, what reading the missed tokens would have saved (input price
    less read price). The costs are ``None`` when the model's price is unknown."""

    usage: TokenUsage
    cost: Decimal | None
    baseline: Decimal | None
    write_cost: Decimal | None = None
    unread_write_cost: Decimal | None = None
    missed_read_cost: Decimal | None = None


@dataclass(slots=True)
class UsageTally:
    """Counts of calls by outcome and the billed tokens they used; not thread-safe."""

    calls: int = 0
    optimized_calls: int = 0
    errors: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    content_blocks: int = 0
    cached_blocks: int = 0
    estimated_input_tokens: int = 0
    estimated_cached_tokens: int = 0
    unread_write_tokens_5m: int = 0
    unread_write_tokens_1h: int = 0
    missed_read_tokens: int = 0

    def add(
        self,
        usage: TokenUsage | None,
        *,
        optimized: bool,
        error: bool,
        fallback: bool,
        plan: CachePlan | None = None,
    ) -> None:
        if plan is not None:
            self.content_blocks += plan.content_blocks
            self.cached_blocks += len(plan.breakpoints)
            self.estimated_input_tokens += plan.estimated_tokens
            self.estimated_cached_tokens += plan.estimated_cached_tokens
            self.unread_write_tokens_5m += plan.unread_write_tokens_5m
            self.unread_write_tokens_1h += plan.unread_write_tokens_1h
            self.missed_read_tokens += plan.missed_read_tokens
        self.calls += 1
        self.optimized_calls += optimized
        self.errors += error
        self.fallbacks += fallback
        if usage is not None:
            self.input_tokens += usage.input_tokens
            self.cache_write_5m_tokens += usage.cache_write_5m_tokens
            self.cache_write_1h_tokens += usage.cache_write_1h_tokens
            self.cache_read_tokens += usage.cache_read_tokens
            self.output_tokens += usage.output_tokens

    def copy(self) -> UsageTally:
        copied = UsageTally()
        copied.merge(self)
        return copied

    def bill(
        self, *, batch: bool, reused: bool, provider: str, model: str, at: date | None = None
    ) -> Bill:
        """Price the tally's calls, and what caching wasted, at the price they were billed
        at (``batch`` or not). Reused calls were answered from a stored result that an
        earlier request paid for: they bill no tokens and nothing (no cache writes
        either), and count only their baseline."""
        usage = self.usage(batch=batch)
        price = cost_of(usage, provider=provider, model=model, at=at)
        # The waste priced as one call: the unread writes at the write price, and the
        # missed tokens both as input and as a read, whose difference a read would have saved.
        waste = cost_of(
            TokenUsage(
                input_tokens=self.missed_read_tokens,
                cache_write_5m_tokens=self.unread_write_tokens_5m,
                cache_write_1h_tokens=self.unread_write_tokens_1h,
                cache_read_tokens=self.missed_read_tokens,
                batch=batch,
            ),
            provider=provider,
            model=model,
            at=at,
        )
        billed = TokenUsage(input_tokens=0) if reused else usage
        if price is None or waste is None:
            return Bill(billed, None, None)
        return Bill(
            billed,
            cost=Decimal(0) if reused else price.total,
            baseline=price.baseline,
            write_cost=Decimal(0) if reused else price.cache_write,
            unread_write_cost=waste.cache_write,
            missed_read_cost=waste.input - waste.cache_read,
        )

    def merge(self, other: UsageTally) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def usage(self, *, batch: bool = False) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens,
            cache_write_5m_tokens=self.cache_write_5m_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens,
            cache_read_tokens=self.cache_read_tokens,
            output_tokens=self.output_tokens,
            batch=batch,
        )
