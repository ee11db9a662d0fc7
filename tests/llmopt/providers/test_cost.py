from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmopt.providers import PRICES_CHECKED, CallCost, TokenUsage, cost_of
from llmopt.providers._claude_models import find_claude_family
from llmopt.providers._prices import ANTHROPIC_PRICES, OPENAI_PRICES

SONNET_45 = "claude-sonnet-4-5-20250929"
DAY = date(2026, 11, 22)

# Written out again from PROVIDER_FACTS, independently of llmopt's table: the
# model, then (input, output) USD per million tokens, before and after a switch day.
SWITCH = date(2026, 9, 1)
REFERENCE_PRICES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "claude-sonnet-4-5-20250929": (("3", "15"), ("3", "15")),
    "claude-sonnet-4-6": (("3", "15"), ("3", "15")),
    "claude-sonnet-4-20250514": (("3", "15"), ("3", "15")),
    "claude-opus-4-5": (("5", "25"), ("5", "25")),
    "claude-opus-4-6": (("5", "25"), ("5", "25")),
    "claude-opus-4-7": (("5", "25"), ("5", "25")),
    "claude-opus-4-8": (("5", "25"), ("5", "25")),
    "claude-opus-4-1-20250805": (("15", "75"), ("15", "75")),
    "claude-opus-4-20250514": (("15", "75"), ("15", "75")),
    "claude-haiku-4-5-20251001": (("1", "5"), ("1", "5")),
    "claude-3-5-haiku-20241022": (("0.80", "4"), ("0.80", "4")),
    "claude-3-haiku-20240307": (("0.25", "1.25"), ("0.25", "1.25")),
    "claude-sonnet-5": (("2", "10"), ("3", "15")),
    "claude-opus-5": (("5", "25"), ("5", "25")),
}


def reference_total(usage: TokenUsage, model: str, day: date) -> tuple[Fraction, Fraction]:
    before, after = REFERENCE_PRICES[model]
    input_price, output_price = (
        Fraction(p) / 1_000_000 for p in (before if day < SWITCH else after)
    )
    billed = (
        usage.input_tokens * input_price
        + usage.cache_write_5m_tokens * input_price * Fraction(5, 4)
        + usage.cache_write_1h_tokens * input_price * 2
        + usage.cache_read_tokens * input_price / 10
        + usage.output_tokens * output_price
    )
    baseline = (
        usage.input_tokens
        + usage.cache_write_5m_tokens
        + usage.cache_write_1h_tokens
        + usage.cache_read_tokens
    ) * input_price + usage.output_tokens * output_price
    return (billed / 2 if usage.batch else billed), baseline


def test_it_prices_a_sonnet_45_call_with_5m_writes_and_reads_exactly() -> None:
    usage = TokenUsage(
        input_tokens=1_000, cache_write_5m_tokens=2_000, cache_read_tokens=10_000, output_tokens=500
    )

    cost = cost_of(usage, provider="anthropic", model=SONNET_45, at=DAY)

    # $3 / $15 per million; 5 m writes 1.25x and reads 0.1x the input price.
    assert cost == CallCost(
        input=Decimal("0.003"),  # 1,000 x 3 / 1e6
        cache_write=Decimal("0.0075"),  # 2,000 x 1.25 x 3 / 1e6
        cache_read=Decimal("0.003"),  # 10,000 x 0.1 x 3 / 1e6
        output=Decimal("0.0075"),  # 500 x 15 / 1e6
        total=Decimal("0.021"),
        baseline=Decimal("0.0465"),  # 13,000 x 3 / 1e6 + 0.0075
    )
    assert cost.savings == Decimal("0.0255")


def test_a_batch_call_costs_half_but_its_baseline_does_not() -> None:
    usage = TokenUsage(
        input_tokens=1_000,
        cache_write_5m_tokens=2_000,
        cache_read_tokens=10_000,
        output_tokens=500,
        batch=True,
    )

    cost = cost_of(usage, provider="anthropic", model=SONNET_45, at=DAY)

    assert cost is not None
    assert (cost.input, cost.cache_write, cost.cache_read, cost.output) == (
        Decimal("0.0015"),
        Decimal("0.00375"),
        Decimal("0.0015"),
        Decimal("0.00375"),
    )
    assert cost.total == Decimal("0.0105")
    assert cost.baseline == Decimal("0.0465")


def test_it_prices_mixed_ttls_on_haiku_45() -> None:
    usage = TokenUsage(
        input_tokens=100,
        cache_write_1h_tokens=3_000,
        cache_write_5m_tokens=2_000,
        cache_read_tokens=5_000,
        output_tokens=1_000,
    )

    cost = cost_of(usage, provider="anthropic", model="claude-haiku-4-5", at=DAY)

    # $1 / $5 per million: 3,000 x 2 + 2,000 x 1.25 = 8,500 input-price tokens of writes.
    assert cost is not None
    assert cost.input == Decimal("0.0001")
    assert cost.cache_write == Decimal("0.0085")
    assert cost.cache_read == Decimal("0.0005")
    assert cost.output == Decimal("0.005")
    assert cost.total == Decimal("0.0141")
    assert cost.baseline == Decimal("0.0151")  # 10,100 x 1 / 1e6 + 0.005


def test_savings_are_negative_when_written_cache_is_never_read() -> None:
    usage = TokenUsage(input_tokens=1_000, cache_write_1h_tokens=4_000, output_tokens=200)

    cost = cost_of(usage, provider="anthropic", model="claude-opus-4-1-20250805", at=DAY)

    # $15 / $75 per million: 0.015 + 4,000 x 2 x 15 / 1e6 + 0.015 against 0.075 + 0.015.
    assert cost is not None
    assert cost.total == Decimal("0.15")
    assert cost.baseline == Decimal("0.09")
    assert cost.savings == Decimal("-0.06")


def test_haiku_35_costs_80_cents_per_million_input_tokens() -> None:
    cost = cost_of(
        TokenUsage(input_tokens=1_000_000), provider="anthropic", model="claude-3-5-haiku-latest"
    )

    assert cost is not None
    assert cost.total == Decimal("0.8")


@pytest.mark.parametrize(
    ("day", "total"),
    [(date(2026, 8, 31), Decimal("12")), (date(2026, 9, 1), Decimal("18"))],
)
def test_sonnet_5_costs_2_and_10_until_august_31_then_3_and_15(day: date, total: Decimal) -> None:
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000)

    cost = cost_of(usage, provider="anthropic", model="claude-sonnet-5", at=day)

    assert cost is not None
    assert cost.total == total


def test_it_uses_todays_prices_in_utc_by_default() -> None:
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000)
    today = datetime.now(UTC).date()

    assert cost_of(usage, provider="anthropic", model="claude-sonnet-5") == cost_of(
        usage, provider="anthropic", model="claude-sonnet-5", at=today
    )


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-opus-4-9"),
        ("anthropic", "claude-opus-6"),
        ("anthropic", "gpt-4o"),
        ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("vertexAI", "claude-sonnet-4-5@20250929"),
        ("openAI", "gpt-5.6-sol"),
        ("openAI", "claude-sonnet-4-6"),
        ("azureOpenAI", "gpt-4o"),
        ("no-such-provider", SONNET_45),
    ],
)
def test_it_gives_no_cost_for_an_unknown_model_or_unpriced_provider(
    provider: str, model: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="llmopt.providers"):
        cost = cost_of(TokenUsage(input_tokens=10), provider=provider, model=model, at=DAY)

    assert cost is None
    assert any(repr(model) in message for message in caplog.messages)


def test_every_price_row_names_a_claude_family_llmopt_recognises() -> None:
    names = {row.family for row in ANTHROPIC_PRICES}
    recognised = {
        family.name
        for model in REFERENCE_PRICES
        if (family := find_claude_family(model)) is not None
    }

    assert names == recognised
    assert date(2026, 11, 22) == PRICES_CHECKED


tokens = st.integers(min_value=0, max_value=10**9)


@given(
    usage=st.builds(
        TokenUsage,
        input_tokens=tokens,
        cache_write_5m_tokens=tokens,
        cache_write_1h_tokens=tokens,
        cache_read_tokens=tokens,
        output_tokens=tokens,
        batch=st.booleans(),
    ),
    model=st.sampled_from(sorted(REFERENCE_PRICES)),
    day=st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
)
def test_cost_matches_a_reference_formula_exactly(usage: TokenUsage, model: str, day: date) -> None:
    cost = cost_of(usage, provider="anthropic", model=model, at=day)

    assert cost is not None
    total, baseline = reference_total(usage, model, day)
    assert Fraction(cost.total) == total
    assert Fraction(cost.baseline) == baseline
    assert cost.input + cost.cache_write + cost.cache_read + cost.output == cost.total
    assert Fraction(cost.savings) == baseline - total


# Written out again from docs/provider-facts-openai-ollama.md (2.4, 2.5) and the gpt-4.1
# launch prices: (input, cached input, output) USD per million tokens.
OPENAI_REFERENCE: dict[str, tuple[str, str, str]] = {
    "gpt-5.5": ("5.00", "0.50", "30.00"),
    "gpt-5.4": ("2.50", "0.25", "15.00"),
    "gpt-5.4-mini": ("0.75", "0.075", "4.50"),
    "gpt-5.4-nano": ("0.20", "0.02", "1.25"),
    "gpt-5.1": ("1.25", "0.125", "10.00"),
    "gpt-5": ("1.25", "0.125", "10.00"),
    "gpt-4.1": ("2.00", "0.50", "8.00"),
    "gpt-4.1-mini": ("0.40", "0.10", "1.60"),
    "gpt-4.1-nano": ("0.10", "0.025", "0.40"),
    "gpt-4o": ("2.50", "1.25", "10.00"),
    "gpt-4o-mini": ("0.15", "0.075", "0.60"),
}


@pytest.mark.parametrize("model", sorted(OPENAI_REFERENCE))
def test_an_openai_call_costs_its_input_cached_input_and_output_prices(model: str) -> None:
    usage = TokenUsage(input_tokens=1_000_000, cache_read_tokens=1_000_000, output_tokens=1_000_000)

    cost = cost_of(usage, provider="openAI", model=model, at=DAY)

    input_price, cached_price, output_price = (Decimal(p) for p in OPENAI_REFERENCE[model])
    assert cost is not None
    assert (cost.input, cost.cache_read, cost.output) == (input_price, cached_price, output_price)
    assert cost.total == input_price + cached_price + output_price
    assert cost.baseline == 2 * input_price + output_price


def test_every_openai_price_row_has_a_reference_price() -> None:
    assert {row.family for row in OPENAI_PRICES} == set(OPENAI_REFERENCE)


def test_a_dated_openai_snapshot_costs_what_its_model_does() -> None:
    usage = TokenUsage(input_tokens=1_000, cache_read_tokens=2_048, output_tokens=100)

    snapshot = cost_of(usage, provider="openai", model="gpt-4o-mini-2024-07-18", at=DAY)

    assert snapshot is not None
    assert snapshot == cost_of(usage, provider="openAI", model="gpt-4o-mini", at=DAY)


def test_openai_cache_writes_cost_plain_input_before_gpt_5_6() -> None:
    usage = TokenUsage(input_tokens=1_000, cache_write_5m_tokens=1_024)

    cost = cost_of(usage, provider="openAI", model="gpt-5.4", at=DAY)

    # $2.50 per million, writes free: 1,024 written tokens cost what input does.
    assert cost is not None
    assert cost.cache_write == Decimal("0.00256")
    assert cost.total == Decimal("0.00506")
    assert cost.savings == 0


def test_an_openai_batch_call_costs_half() -> None:
    usage = TokenUsage(input_tokens=2_000, cache_read_tokens=1_024, output_tokens=400, batch=True)

    cost = cost_of(usage, provider="openAI", model="gpt-5.4-mini", at=DAY)

    # (2,000 x 0.75 + 1,024 x 0.075 + 400 x 4.50) / 1e6, halved.
    assert cost is not None
    assert cost.total == Decimal("0.0016884")
    assert cost.baseline == Decimal("0.004068")


@pytest.mark.parametrize("provider", ["ollama", "Ollama"])
def test_an_ollama_call_costs_nothing(provider: str) -> None:
    usage = TokenUsage(input_tokens=5_000, output_tokens=700)

    cost = cost_of(usage, provider=provider, model="llama3.1:8b", at=DAY)

    assert cost == CallCost(*(Decimal(0),) * 6)
