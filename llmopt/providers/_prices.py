"""Anthropic's prices, as one table of data.

Change prices here and nowhere else; bump ``PRICES_CHECKED`` when you check them.
A family without a row has no price, and llmopt then reports no cost rather than
a guessed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType

PRICES_CHECKED = date(2026, 11, 22)

CACHE_WRITE_MULTIPLIERS: MappingProxyType[int, Decimal] = MappingProxyType(
    {300: Decimal("1.25"), 3600: Decimal("2")}
)
CACHE_READ_MULTIPLIER = Decimal("0.1")
BATCH_DISCOUNT = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens for one Claude family, within an optional date range.

    ``valid_from`` and ``valid_until`` are both inclusive; ``None`` leaves that end
    open. ``cache_read_multiplier`` overrides the usual read multiplier.
    """

    family: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_multiplier: Decimal | None = None
    valid_from: date | None = None
    valid_until: date | None = None

    def applies_on(self, day: date) -> bool:
        starts = self.valid_from is None or self.valid_from <= day
        ends = self.valid_until is None or day <= self.valid_until
        return starts and ends

    @property
    def read_multiplier(self) -> Decimal:
        if self.cache_read_multiplier is None:
            return CACHE_READ_MULTIPLIER
        return self.cache_read_multiplier


def _row(
    family: str,
    input_per_mtok: str,
    output_per_mtok: str,
    *,
    read: str | None = None,
    from_: date | None = None,
    until: date | None = None,
) -> ModelPrice:
    return ModelPrice(
        family,
        Decimal(input_per_mtok),
        Decimal(output_per_mtok),
        None if read is None else Decimal(read),
        from_,
        until,
    )


ANTHROPIC_PRICES: tuple[ModelPrice, ...] = (
    _row("Sonnet 5", "2", "10", until=date(2026, 8, 31)),
    _row("Sonnet 5", "3", "15", from_=date(2026, 9, 1)),
    _row("Sonnet 4.6", "3", "15"),
    _row("Sonnet 4.5", "3", "15"),
    _row("Sonnet 4", "3", "15"),
    _row("Opus 5", "5", "25"),
    _row("Opus 4.8", "5", "25"),
    _row("Opus 4.7", "5", "25"),
    _row("Opus 4.6", "5", "25"),
    _row("Opus 4.5", "5", "25"),
    _row("Opus 4.1", "15", "75"),
    _row("Opus 4", "15", "75"),
    _row("Haiku 4.5", "1", "5"),
    _row("Haiku 3.5", "0.80", "4"),
    _row("Haiku 3", "0.25", "1.25"),
)


def anthropic_price(family: str, on: date) -> ModelPrice | None:
    """The price row for ``family`` on ``on``, or None when the table has none."""
    return next((p for p in ANTHROPIC_PRICES if p.family == family and p.applies_on(on)), None)
