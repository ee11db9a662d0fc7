from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import CacheCreation, Usage
from hypothesis import given
from hypothesis import strategies as st
from langchain_anthropic.chat_models import _create_usage_metadata

from llmopt.providers import TokenUsage


def test_it_reads_every_counter_of_an_anthropic_usage_dict() -> None:
    usage = TokenUsage.from_anthropic(
        {
            "input_tokens": 12,
            "cache_creation_input_tokens": 3_000,
            "cache_read_input_tokens": 9_000,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 1_000,
                "ephemeral_1h_input_tokens": 2_000,
            },
            "output_tokens": 345,
            "service_tier": "standard",
        }
    )

    assert usage == TokenUsage(
        input_tokens=12,
        cache_write_5m_tokens=1_000,
        cache_write_1h_tokens=2_000,
        cache_read_tokens=9_000,
        output_tokens=345,
    )
    assert usage.total_input_tokens == 12_012


def test_it_reads_the_sdks_usage_object() -> None:
    sdk_usage = Usage(
        input_tokens=50,
        output_tokens=7,
        cache_creation_input_tokens=400,
        cache_read_input_tokens=0,
        cache_creation=CacheCreation(ephemeral_5m_input_tokens=0, ephemeral_1h_input_tokens=400),
        service_tier="batch",
    )

    assert TokenUsage.from_anthropic(sdk_usage) == TokenUsage(
        input_tokens=50, cache_write_1h_tokens=400, output_tokens=7, batch=True
    )


def test_it_counts_writes_as_5_minute_ones_without_a_ttl_breakdown() -> None:
    usage = TokenUsage.from_anthropic(
        {"input_tokens": 1, "cache_creation_input_tokens": 2_048, "output_tokens": 2}
    )

    assert usage.cache_write_5m_tokens == 2_048
    assert usage.cache_write_1h_tokens == 0


def test_it_counts_missing_and_null_counters_as_zero() -> None:
    usage = TokenUsage.from_anthropic(
        {"input_tokens": None, "cache_read_input_tokens": None, "output_tokens": 3}
    )

    assert usage == TokenUsage(input_tokens=0, output_tokens=3)


def test_it_refuses_a_counter_that_is_not_a_whole_number() -> None:
    with pytest.raises(TypeError, match="input_tokens"):
        TokenUsage.from_anthropic({"input_tokens": "12", "output_tokens": 3})


def test_it_refuses_negative_token_counts() -> None:
    with pytest.raises(ValueError, match="cache_read_tokens"):
        TokenUsage(input_tokens=1, cache_read_tokens=-1)


def test_it_takes_cache_tokens_out_of_langchains_input_total() -> None:
    usage = TokenUsage.from_langchain(
        {
            "input_tokens": 12_012,
            "output_tokens": 345,
            "total_tokens": 12_357,
            "input_token_details": {
                "cache_read": 9_000,
                "cache_creation": 0,
                "ephemeral_5m_input_tokens": 1_000,
                "ephemeral_1h_input_tokens": 2_000,
            },
        }
    )

    assert usage == TokenUsage(
        input_tokens=12,
        cache_write_5m_tokens=1_000,
        cache_write_1h_tokens=2_000,
        cache_read_tokens=9_000,
        output_tokens=345,
    )


def test_it_does_not_double_count_a_generic_and_per_ttl_cache_creation() -> None:
    usage = TokenUsage.from_langchain(
        {
            "input_tokens": 3_010,
            "output_tokens": 1,
            "input_token_details": {
                "cache_creation": 3_000,
                "ephemeral_5m_input_tokens": 1_000,
                "ephemeral_1h_input_tokens": 2_000,
            },
        }
    )

    assert usage.input_tokens == 10
    assert usage.total_input_tokens == 3_010


def test_it_reads_langchain_usage_from_before_per_ttl_details() -> None:
    usage = TokenUsage.from_langchain(
        {
            "input_tokens": 5_100,
            "output_tokens": 20,
            "input_token_details": {"cache_read": 4_000, "cache_creation": 1_000},
        },
        batch=True,
    )

    assert usage == TokenUsage(
        input_tokens=100,
        cache_write_5m_tokens=1_000,
        cache_read_tokens=4_000,
        output_tokens=20,
        batch=True,
    )


def test_it_reads_langchain_usage_without_input_details() -> None:
    usage = TokenUsage.from_langchain({"input_tokens": 30, "output_tokens": 4, "total_tokens": 34})

    assert usage == TokenUsage(input_tokens=30, output_tokens=4)


counts = st.integers(min_value=0, max_value=10**7)
maybe_counts = st.none() | counts


@st.composite
def anthropic_usages(draw: st.DrawFn) -> Usage:
    fields: dict[str, Any] = {
        "input_tokens": draw(counts),
        "output_tokens": draw(counts),
        "cache_creation_input_tokens": draw(maybe_counts),
        "cache_read_input_tokens": draw(maybe_counts),
        "service_tier": draw(st.sampled_from([None, "standard", "priority", "batch"])),
    }
    if draw(st.booleans()):
        fields["cache_creation"] = CacheCreation(
            ephemeral_5m_input_tokens=draw(counts), ephemeral_1h_input_tokens=draw(counts)
        )
    return Usage(**fields)


@given(raw=anthropic_usages())
def test_langchains_usage_metadata_gives_the_same_usage_as_anthropics_raw_usage(
    raw: Usage,
) -> None:
    metadata = _create_usage_metadata(raw)

    from_langchain = TokenUsage.from_langchain(metadata, batch=raw.service_tier == "batch")

    assert from_langchain == TokenUsage.from_anthropic(raw)
    assert from_langchain.total_input_tokens == metadata["input_tokens"]


def test_usages_add_up_counter_by_counter() -> None:
    a = TokenUsage(
        input_tokens=1,
        cache_write_5m_tokens=2,
        cache_write_1h_tokens=3,
        cache_read_tokens=4,
        output_tokens=5,
    )
    b = TokenUsage(
        input_tokens=10,
        cache_write_5m_tokens=20,
        cache_write_1h_tokens=30,
        cache_read_tokens=40,
        output_tokens=50,
    )
    assert a + b == TokenUsage(
        input_tokens=11,
        cache_write_5m_tokens=22,
        cache_write_1h_tokens=33,
        cache_read_tokens=44,
        output_tokens=55,
    )


def test_batch_and_standard_usage_do_not_add() -> None:
    with pytest.raises(ValueError, match="priced apart"):
        TokenUsage(input_tokens=1) + TokenUsage(input_tokens=1, batch=True)
