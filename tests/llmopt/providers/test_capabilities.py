from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmopt.providers import KNOWN_PROVIDERS, ProviderCapabilities
from llmopt.providers._claude_models import find_claude_family

detect = ProviderCapabilities.detect


def test_it_knows_the_fifteen_configuration_provider_names_in_sorted_order() -> None:
    assert KNOWN_PROVIDERS == (
        "anthropic",
        "azureAI",
        "azureOpenAI",
        "bedrock",
        "cohere",
        "fireworks",
        "gemini",
        "groq",
        "mistral",
        "ollama",
        "openAI",
        "openAICompatible",
        "together",
        "vertexAI",
        "xai",
    )


@pytest.mark.parametrize(
    ("provider", "batching", "caching"),
    [
        ("anthropic", True, "explicit"),
        ("azureAI", False, "none"),
        ("azureOpenAI", True, "automatic"),
        ("bedrock", True, "explicit"),
        ("cohere", True, "none"),
        ("fireworks", True, "automatic"),
        ("gemini", True, "automatic"),
        ("groq", True, "automatic"),
        ("mistral", True, "automatic"),
        ("ollama", False, "none"),
        ("openAI", True, "automatic"),
        ("openAICompatible", False, "none"),
        ("together", True, "none"),
        ("vertexAI", False, "none"),
        ("xai", True, "automatic"),
    ],
)
def test_each_provider_offers_its_documented_batching_and_caching(
    provider: str, batching: bool, caching: str
) -> None:
    caps = detect(provider)

    assert caps.known
    assert caps.provider == provider
    assert caps.supports_batching is batching
    assert caps.caching == caching
    assert caps.optimizable is (batching or caching != "none")
    assert (caps.reason is None) is caps.optimizable


def test_the_matrix_above_covers_every_known_provider() -> None:
    assert len(KNOWN_PROVIDERS) == 15


@pytest.mark.parametrize(
    ("provider", "max_requests", "max_bytes"),
    [
        ("anthropic", 100_000, 256_000_000),
        ("openAI", 50_000, 200_000_000),
        ("azureOpenAI", 100_000, 200_000_000),
        ("together", 50_000, None),
    ],
)
def test_batch_limits_follow_the_provider_facts(
    provider: str, max_requests: int, max_bytes: int | None
) -> None:
    batch = detect(provider).batch

    assert batch is not None
    assert (batch.max_requests, batch.max_bytes) == (max_requests, max_bytes)
    assert batch.discount == 0.5
    assert batch.window_hours == 24


def test_anthropic_batches_keep_the_cache_discount_and_vertex_gemini_batches_do_not() -> None:
    anthropic_batch = detect("anthropic").batch
    gemini_batch = detect("vertexAI", "gemini-2.5-pro").batch

    assert anthropic_batch is not None and anthropic_batch.stacks_with_cache_discount
    assert gemini_batch is not None and not gemini_batch.stacks_with_cache_discount


def test_anthropic_offers_four_breakpoints_two_ttls_and_its_cache_prices() -> None:
    caps = detect("anthropic", "claude-sonnet-4-5")

    assert caps.supports_explicit_caching
    assert caps.max_cache_breakpoints == 4
    assert caps.cache_ttls == (300, 3600)
    assert dict(caps.cache_write_multipliers) == {300: 1.25, 3600: 2.0}
    assert caps.cache_read_multiplier == 0.1
    assert caps.min_cacheable_tokens == 1_024
    assert caps.reason is None


def test_bedrock_offers_four_cache_points_and_batches() -> None:
    caps = detect("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")

    assert caps.supports_explicit_caching
    assert caps.max_cache_breakpoints == 4
    assert caps.supports_batching


def test_vertex_caches_claude_like_anthropic() -> None:
    caps = detect("vertexAI", "claude-sonnet-4-5@20250929")

    assert caps.caching == "explicit"
    assert caps.max_cache_breakpoints == 4
    assert caps.cache_ttls == (300, 3600)
    assert caps.min_cacheable_tokens == 1_024
    assert caps.supports_batching


def test_vertex_caches_gemini_automatically() -> None:
    caps = detect("vertexAI", "gemini-2.5-flash")

    assert caps.caching == "automatic"
    assert caps.max_cache_breakpoints == 0
    assert caps.cache_ttls == ()


@pytest.mark.parametrize(
    ("provider", "model"),
    [("gemini", "gemini-2.0-flash"), ("vertexAI", "gemini-1.5-pro-002")],
)
def test_gemini_before_2_5_has_no_implicit_caching_but_still_batches(
    provider: str, model: str
) -> None:
    caps = detect(provider, model)

    assert caps.caching == "none"
    assert caps.supports_batching


@pytest.mark.parametrize("provider", ["openAI", "groq", "mistral", "fireworks", "xai"])
def test_providers_that_cache_for_every_model_accept_any_model(provider: str) -> None:
    caps = detect(provider, "some-model-released-tomorrow")

    assert caps.optimizable
    assert caps.model == "some-model-released-tomorrow"
    assert caps.caching == "automatic"


def test_openai_caches_from_1024_tokens_whatever_the_model() -> None:
    assert detect("openAI", "gpt-4.1").min_cacheable_tokens == 1_024
    assert detect("azureOpenAI").min_cacheable_tokens == 1_024


def test_the_minimum_cacheable_prefix_is_unknown_without_a_model() -> None:
    caps = detect("anthropic")

    assert caps.min_cacheable_tokens is None
    assert caps.optimizable


@pytest.mark.parametrize(
    ("provider", "model", "min_tokens"),
    [
        ("anthropic", "claude-sonnet-4-5-20250929", 1_024),
        ("anthropic", "claude-sonnet-4-5", 1_024),
        ("anthropic", "claude-sonnet-4-6", 1_024),
        ("anthropic", "claude-sonnet-4-0", 1_024),
        ("anthropic", "claude-sonnet-4-20250514", 1_024),
        ("anthropic", "claude-opus-4-1-20250805", 1_024),
        ("anthropic", "claude-opus-4-20250514", 1_024),
        ("anthropic", "claude-opus-4-0", 1_024),
        ("anthropic", "claude-opus-4-5", 4_096),
        ("anthropic", "claude-opus-4-5-20251101", 4_096),
        ("anthropic", "claude-opus-4-6", 4_096),
        ("anthropic", "claude-opus-4-7", 2_048),
        ("anthropic", "claude-opus-4-8", 1_024),
        ("anthropic", "claude-haiku-4-5-20251001", 4_096),
        ("anthropic", "claude-haiku-4-5", 4_096),
        ("anthropic", "claude-3-5-haiku-20241022", 2_048),
        ("anthropic", "claude-3-5-haiku-latest", 2_048),
        ("anthropic", "claude-3-haiku-20240307", 2_048),
        ("anthropic", "claude-sonnet-5", 1_024),
        ("anthropic", "claude-opus-5", 512),
        ("anthropic", "claude-opus-6", 512),
        ("anthropic", "claude-sonnet-6", 512),
        ("anthropic", "claude-haiku-5", 512),
        ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", 1_024),
        ("bedrock", "us.anthropic.claude-opus-4-5-20251101-v1:0", 4_096),
        ("bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", 4_096),
        ("bedrock", "global.anthropic.claude-sonnet-4-20250514-v1:0", 1_024),
        ("bedrock", "anthropic.claude-3-haiku-20240307-v1:0:200k", 2_048),
        (
            "bedrock",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            "us.anthropic.claude-opus-4-1-20250805-v1:0",
            1_024,
        ),
        ("vertexAI", "claude-sonnet-4-5@20250929", 1_024),
        ("vertexAI", "claude-opus-4-5@20251101", 4_096),
        ("vertexAI", "claude-3-5-haiku@20241022", 2_048),
        ("vertexAI", "publishers/anthropic/models/claude-opus-4-7", 2_048),
    ],
)
def test_it_gives_each_claude_model_id_its_minimum_cacheable_prefix(
    provider: str, model: str, min_tokens: int
) -> None:
    caps = detect(provider, model)

    assert caps.min_cacheable_tokens == min_tokens
    assert caps.supports_explicit_caching
    assert caps.model == model


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-opus-4", "Opus 4"),
        ("claude-opus-4-20250514", "Opus 4"),
        ("claude-opus-4-1", "Opus 4.1"),
        ("claude-opus-4-5", "Opus 4.5"),
        ("claude-opus-4-5-20251101", "Opus 4.5"),
        ("claude-sonnet-4-20250514", "Sonnet 4"),
        ("claude-sonnet-4-5", "Sonnet 4.5"),
        ("claude-sonnet-4-5-20250929", "Sonnet 4.5"),
        ("claude-sonnet-5", "Sonnet 5"),
        ("claude-3-5-haiku-latest", "Haiku 3.5"),
        ("claude-3-haiku-20240307", "Haiku 3"),
    ],
)
def test_a_shorter_model_name_never_swallows_a_longer_one(model: str, family: str) -> None:
    found = find_claude_family(model)

    assert found is not None
    assert found.name == family


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-3-5-sonnet-20241022"),
        ("anthropic", "claude-opus-4-9"),
        ("anthropic", "claude-sonnet-5-1"),
        ("anthropic", "claude-opus-4-5-turbo"),
        ("anthropic", "gpt-4o"),
        ("bedrock", "amazon.nova-pro-v1:0"),
        ("bedrock", "anthropic.claude-v2:1"),
        ("vertexAI", "llama-3.1-405b-instruct-maas"),
        ("vertexAI", "claude-opus-4-9@20270101"),
    ],
)
def test_it_offers_nothing_for_a_model_it_does_not_know(provider: str, model: str) -> None:
    caps = detect(provider, model)

    assert caps.known
    assert not caps.optimizable
    assert caps.batch is None
    assert caps.caching == "none"
    assert caps.max_cache_breakpoints == 0
    assert caps.min_cacheable_tokens is None
    assert caps.reason is not None and repr(model) in caps.reason


def test_it_asks_for_the_model_on_vertex_because_claude_and_gemini_differ() -> None:
    caps = detect("vertexAI")

    assert not caps.optimizable
    assert caps.reason is not None and "model" in caps.reason


def test_it_offers_nothing_for_an_unknown_provider_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="llmopt.providers"):
        caps = detect("a-provider-for-the-log-test", "claude-sonnet-4-5")

    assert not caps.known
    assert not caps.optimizable
    assert caps.batch is None
    assert caps.caching == "none"
    assert caps.reason == (
        "'a-provider-for-the-log-test' is not a provider llmopt knows; no optimization applies"
    )
    assert caps.reason in caplog.messages


def test_it_matches_provider_names_whatever_their_case() -> None:
    caps = detect(" OpenAI ")

    assert caps.known
    assert caps.provider == "openAI"


@pytest.mark.parametrize("provider", ["ollama", "azureAI", "openAICompatible"])
def test_it_says_why_a_known_provider_cannot_be_optimized(provider: str) -> None:
    caps = detect(provider, "llama3")

    assert not caps.optimizable
    assert caps.reason is not None and provider in caps.reason


def test_capabilities_can_be_compared_and_hashed() -> None:
    caps = detect("anthropic", "claude-opus-4-5")

    assert caps == detect("anthropic", "claude-opus-4-5")
    assert {caps: "cached"}[caps] == "cached"


@given(provider=st.text(), model=st.none() | st.text())
def test_detect_never_raises_on_arbitrary_text(provider: str, model: str | None) -> None:
    caps = detect(provider, model)

    assert caps.known is (provider.strip().casefold() in {p.casefold() for p in KNOWN_PROVIDERS})


@given(provider=st.sampled_from(KNOWN_PROVIDERS), model=st.text())
def test_detect_never_raises_on_arbitrary_models_of_known_providers(
    provider: str, model: str
) -> None:
    caps = detect(provider, model)

    assert caps.known
    assert caps.optimizable is (caps.reason is None)
