"""What caching wasted, priced: writes that expired unread and reads missed, in
``get_cache_stats()`` and in the usage roll-ups, at the table's real prices.

Sonnet 4.6 costs $3 per million input tokens: a 5-minute write $3.75, a 1-hour write $6,
a read $0.30; batch calls half of each.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.caching import Breakpoint, CachePlan
from llmopt.providers import TokenUsage
from llmopt.sandbox import SandboxServer
from llmopt.wrapper import OptimizedLLMWrapper
from llmopt.wrapper._stats import StatsCounter

from .conftest import CACHING, MODEL, SYSTEM, chat, words

PER_TOKEN = 3 / 1_000_000  # Sonnet 4.6's input price


def plan(**counts: Any) -> CachePlan:
    marker = Breakpoint("system[0]", 300, 2_048, "planner", "the system prompt recurs")
    return CachePlan(payload={}, breakpoints=(marker,), decisions=(), changed=True, **counts)


def wasteful_call(counter: StatsCounter, *, batch: bool = False) -> None:
    counter.add(
        TokenUsage(input_tokens=100, cache_write_5m_tokens=4_000, batch=batch),
        optimized=True,
        fallback=False,
        error=False,
        plan=plan(
            unread_write_tokens_5m=1_000, unread_write_tokens_1h=500, missed_read_tokens=2_000
        ),
    )


def test_writes_never_read_and_reads_missed_are_priced_at_the_models_prices() -> None:
    counter = StatsCounter()
    wasteful_call(counter)

    stats = counter.snapshot(provider="anthropic", model=MODEL)

    assert (stats.unread_write_tokens, stats.missed_read_tokens) == (1_500, 2_000)
    # 1,000 at the 5 m write price (1.25x) and 500 at the 1 h one (2x).
    assert stats.unread_write_cost_usd == pytest.approx((1_000 * 1.25 + 500 * 2) * PER_TOKEN)
    # Every write the call was billed for, read or not: 4,000 at 1.25x.
    assert stats.write_cost_usd == pytest.approx(4_000 * 1.25 * PER_TOKEN)
    assert stats.unread_write_share == pytest.approx(2_250 / 5_000)
    # A read would have cost 0.1x instead of the full input price.
    assert stats.missed_read_cost_usd == pytest.approx(2_000 * 0.9 * PER_TOKEN)


def test_the_waste_of_batch_calls_is_priced_at_the_batch_price() -> None:
    standard, batch = StatsCounter(), StatsCounter()
    wasteful_call(standard)
    wasteful_call(batch, batch=True)

    full = standard.snapshot(provider="anthropic", model=MODEL)
    half = batch.snapshot(provider="anthropic", model=MODEL)

    for name in ("unread_write_cost_usd", "write_cost_usd", "missed_read_cost_usd"):
        assert half[name] == pytest.approx(full[name] / 2)
    assert half.unread_write_share == pytest.approx(full.unread_write_share)


def test_standard_and_batch_waste_add_up() -> None:
    counter = StatsCounter()
    wasteful_call(counter)
    wasteful_call(counter, batch=True)

    stats = counter.snapshot(provider="anthropic", model=MODEL)

    assert stats.unread_write_tokens == 3_000
    assert stats.unread_write_cost_usd == pytest.approx(1.5 * 2_250 * PER_TOKEN)
    assert stats.write_cost_usd == pytest.approx(1.5 * 5_000 * PER_TOKEN)


def test_without_write_spend_the_unread_share_is_zero() -> None:
    counter = StatsCounter()
    counter.add(
        TokenUsage(input_tokens=3_000),
        optimized=True,
        fallback=False,
        error=False,
        plan=plan(missed_read_tokens=3_000),
    )

    stats = counter.snapshot(provider="anthropic", model=MODEL)

    assert (stats.write_cost_usd, stats.unread_write_cost_usd, stats.unread_write_share) == (
        0.0,
        0.0,
        0.0,
    )
    assert stats.missed_read_cost_usd == pytest.approx(3_000 * 0.9 * PER_TOKEN)


def test_a_model_without_a_price_reports_no_waste_cost_but_counts_the_tokens() -> None:
    counter = StatsCounter()
    wasteful_call(counter)

    stats = counter.snapshot(provider="groq", model="llama-3.3-70b-versatile")

    assert (stats.unread_write_tokens, stats.missed_read_tokens) == (1_500, 2_000)
    assert stats.unread_write_cost_usd is None
    assert stats.write_cost_usd is None
    assert stats.unread_write_share is None
    assert stats.missed_read_cost_usd is None


def test_the_waste_figures_read_by_key_like_every_other() -> None:
    counter = StatsCounter()
    wasteful_call(counter)

    stats = counter.snapshot(provider="anthropic", model=MODEL)

    names = (
        "unread_write_tokens",
        "unread_write_cost_usd",
        "write_cost_usd",
        "unread_write_share",
        "missed_read_tokens",
        "missed_read_cost_usd",
    )
    assert {name: stats[name] for name in names} == {name: getattr(stats, name) for name in names}
    assert set(names) <= set(stats)


def test_a_wrappers_write_spend_is_what_the_provider_billed_for_cache_writes(
    sandbox: SandboxServer,
) -> None:
    model = OptimizedLLMWrapper(chat(sandbox), "anthropic", CACHING)
    for question in ("first", "second"):
        model.invoke([SystemMessage(SYSTEM), HumanMessage(words(50, question))])

    stats = model.get_cache_stats()

    billed = sandbox.billing().total
    assert billed.cache_write_5m_tokens > 0
    written = billed.cache_write_5m_tokens * 1.25 + billed.cache_write_1h_tokens * 2
    assert stats.write_cost_usd == pytest.approx(written * PER_TOKEN)
    assert stats.unread_write_share is not None and 0.0 <= stats.unread_write_share <= 1.0
