"""Anthropic's and OpenAI's prices, as tables of data.

Change prices here and nowhere else; bump ``PRICES_CHECKED`` when you check Anthropic's,
``OPENAI_PRICES_READ`` when you re-read OpenAI's. A family or model without a row has
no price, and llmopt then reports no cost rather than a guessed one.
"""

from __future__ import annotations

import re
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
    """USD per million tokens for one Claude family (or OpenAI model), within an optional
    date range.

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


# OpenAI Chat Completions, USD per million tokens, Standard tier, short context (< 270K),
# as docs/provider-facts-openai-ollama.md (sections 2.4 and 2.5) gives them. None of the
# rows was read on openai.com itself (its pricing page was not in the store): each comes
# from third-party copies, dated beside it. A row's model id also prices its dated
# snapshots (``gpt-4o-2024-08-06``). Cached input is the input price times the family's
# read multiplier; cache writes cost nothing extra before GPT-5.6 (no GPT-5.6 rows yet:
# their ids and prices are an unconfirmed preview). Batch: 50% of everything.
OPENAI_PRICES_READ = date(2026, 12, 6)
OPENAI_READ_MULTIPLIERS: MappingProxyType[str, Decimal] = MappingProxyType(
    {
        "gpt-4o": Decimal("0.5"),  # third-party (adk-model, March 2026), not re-checked
        "gpt-4.1": Decimal("0.25"),  # third-party (adk-model; api-evangelist 2026-11-06)
        "gpt-5": Decimal("0.1"),  # list prices: cached = input / 10
    }
)
OPENAI_CACHE_WRITE_MULTIPLIER = Decimal("1")
"""Cache writes before GPT-5.6 are plain input (no fee); GPT-5.6+ would be 1.25."""


def _openai_row(model: str, input_per_mtok: str, output_per_mtok: str, family: str) -> ModelPrice:
    return ModelPrice(
        model,
        Decimal(input_per_mtok),
        Decimal(output_per_mtok),
        OPENAI_READ_MULTIPLIERS[family],
    )


OPENAI_PRICES: tuple[ModelPrice, ...] = (
    # tokenmix.ai (verified 2026-06-04), aicostnest (2026-05-28); gpt-5.5 also morphllm.com
    # "June 2026". Cached: 0.50 / 0.25 / 0.075 / 0.02.
    _openai_row("gpt-5.5", "5.00", "30.00", "gpt-5"),
    _openai_row("gpt-5.4", "2.50", "15.00", "gpt-5"),
    _openai_row("gpt-5.4-mini", "0.75", "4.50", "gpt-5"),
    _openai_row("gpt-5.4-nano", "0.20", "1.25", "gpt-5"),
    # benchlm.ai; openai-cost crate (2026-Q2). Cached 0.125.
    _openai_row("gpt-5.1", "1.25", "10.00", "gpt-5"),
    _openai_row("gpt-5", "1.25", "10.00", "gpt-5"),
    # Not in the facts doc's price table: deploybase.ai ("OpenAI API pricing, March 2026")
    # and losclouds.com (verified 2026-04-02), the April 2025 launch prices. UNCONFIRMED.
    # Cached 0.50 / 0.10 / 0.025.
    _openai_row("gpt-4.1", "2.00", "8.00", "gpt-4.1"),
    _openai_row("gpt-4.1-mini", "0.40", "1.60", "gpt-4.1"),
    _openai_row("gpt-4.1-nano", "0.10", "0.40", "gpt-4.1"),
    # openai-models crate (old list prices): UNCONFIRMED for 2026. Cached 1.25 / 0.075.
    # (The first gpt-4o snapshot, 2024-05-13, was priced 5 / 15; it is priced as gpt-4o.)
    _openai_row("gpt-4o", "2.50", "10.00", "gpt-4o"),
    _openai_row("gpt-4o-mini", "0.15", "0.60", "gpt-4o"),
)
_OPENAI_BY_MODEL = {row.family: row for row in OPENAI_PRICES}
_SNAPSHOT = re.compile(r"^(?P<model>.+?)(?:-\d{4}-\d{2}-\d{2})?$")


def find_openai_model(model: str) -> str | None:
    """The price table's model id for ``model`` (itself or a dated snapshot of it), or None."""
    bare = model.strip().lower()
    if bare in _OPENAI_BY_MODEL:
        return bare
    match = _SNAPSHOT.match(bare)
    name = match["model"] if match else bare
    return name if name in _OPENAI_BY_MODEL else None


def openai_price(model: str, on: date) -> ModelPrice | None:
    """The price row for OpenAI ``model`` on ``on``, or None when the table has none."""
    name = find_openai_model(model)
    row = _OPENAI_BY_MODEL.get(name) if name is not None else None
    return row if row is not None and row.applies_on(on) else None
