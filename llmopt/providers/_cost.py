"""What a call cost in USD, and what it would have cost without llmopt."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from llmopt.providers._capabilities import canonical_provider
from llmopt.providers._claude_models import find_claude_family
from llmopt.providers._prices import (
    BATCH_DISCOUNT,
    CACHE_WRITE_MULTIPLIERS,
    OPENAI_CACHE_WRITE_MULTIPLIER,
    ModelPrice,
    anthropic_price,
    openai_price,
)
from llmopt.providers._usage import TokenUsage

logger = logging.getLogger("llmopt.providers")

# Money must be exact: a result that would need rounding raises instead.
_EXACT = Context(prec=80, traps=[DivisionByZero, Inexact, InvalidOperation, Overflow])
_PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class CallCost:
    """The exact USD cost of one call, by part, next to its unoptimized baseline.

    ``baseline`` is the same call with every input token at the base input price
    and no batch discount; ``total`` is what was billed.
    """

    input: Decimal
    cache_write: Decimal
    cache_read: Decimal
    output: Decimal
    total: Decimal
    baseline: Decimal

    @property
    def savings(self) -> Decimal:
        """``baseline - total``; negative when cache writes were never read back."""
        with localcontext(_EXACT):
            return self.baseline - self.total


def cost_of(
    usage: TokenUsage, *, provider: str, model: str, at: date | None = None
) -> CallCost | None:
    """The exact cost of a call, or ``None`` when llmopt does not know the price.

    Use it to report spend and savings. ``at`` is the day whose prices apply
    (default: today, UTC). Priced: Anthropic's own API (cache writes at 1.25x/2x, reads
    by family), OpenAI's (reads at the model family's cached-input price; writes are plain
    input before GPT-5.6), and Ollama, which runs locally and always costs zero. Other
    providers, Claude on Bedrock or Vertex, and unknown models give ``None`` (never zero),
    with the reason logged at debug level on ``llmopt.providers``. Batch calls cost half.
    """
    day = at if at is not None else datetime.now(UTC).date()
    name = canonical_provider(provider)
    if name == "ollama":
        zero = Decimal(0)
        return CallCost(zero, zero, zero, zero, zero, zero)
    if name == "openAI":
        price = openai_price(model, day)
        if price is None:
            logger.debug("no cost for %r on openAI: no price for that model on %s", model, day)
            return None
        # One kind of write on OpenAI: any write tokens are priced alike, whatever the TTL.
        write = OPENAI_CACHE_WRITE_MULTIPLIER
        return _priced(usage, price, write_5m=write, write_1h=write)
    if name != "anthropic":
        why = "it is not a known provider" if name is None else "its prices are not in the table"
        logger.debug("no cost for %r on provider %r: %s", model, provider, why)
        return None
    family = find_claude_family(model)
    anthropic = anthropic_price(family.name, day) if family is not None else None
    if anthropic is None:
        logger.debug("no cost for %r on anthropic: no price for that model on %s", model, day)
        return None
    return _priced(
        usage,
        anthropic,
        write_5m=CACHE_WRITE_MULTIPLIERS[300],
        write_1h=CACHE_WRITE_MULTIPLIERS[3600],
    )


def _priced(
    usage: TokenUsage, price: ModelPrice, *, write_5m: Decimal, write_1h: Decimal
) -> CallCost:
    with localcontext(_EXACT):
        base = price.input_per_mtok / _PER_MILLION
        share = BATCH_DISCOUNT if usage.batch else Decimal(1)
        input_ = usage.input_tokens * base * share
        cache_write = (
            (usage.cache_write_5m_tokens * write_5m + usage.cache_write_1h_tokens * write_1h)
            * base
            * share
        )
        cache_read = usage.cache_read_tokens * price.read_multiplier * base * share
        output = usage.output_tokens * price.output_per_mtok / _PER_MILLION * share
        baseline = (
            usage.total_input_tokens * base
            + usage.output_tokens * price.output_per_mtok / _PER_MILLION
        )
        return CallCost(
            input=input_,
            cache_write=cache_write,
            cache_read=cache_read,
            output=output,
            total=input_ + cache_write + cache_read + output,
            baseline=baseline,
        )
