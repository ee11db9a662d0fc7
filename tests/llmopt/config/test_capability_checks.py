from __future__ import annotations

from typing import Any

import pytest

from llmopt.config import OptimizationConfig, capability_hints
from llmopt.errors import ConfigError


def field_problems(configuration: dict[str, Any], provider: str) -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as caught:
        OptimizationConfig.from_dict(configuration, provider=provider)
    return caught.value.by_field()


def test_batching_on_a_provider_without_a_batch_api_is_rejected_with_the_reason() -> None:
    found = field_problems({"model": "llama3.1", "batchingEnabled": True}, "ollama")
    assert found == {
        "batchingEnabled": [
            "batchingEnabled cannot be on: ollama runs models locally: "
            "no Batch API and no prompt caching to use"
        ]
    }


def test_batching_on_a_provider_with_caching_but_no_batch_api_names_the_gap() -> None:
    found = field_problems({"model": "m", "batchingEnabled": True}, "azureAI")
    assert found["batchingEnabled"][0].startswith("batchingEnabled cannot be on: azureAI serves")


def test_caching_on_a_provider_without_caching_is_rejected() -> None:
    found = field_problems({"model": "llama3.1", "cachingEnabled": True}, "ollama")
    assert found["cachingEnabled"][0].startswith("cachingEnabled cannot be on: ollama runs models")


def test_a_batch_larger_than_the_provider_takes_is_rejected() -> None:
    found = field_problems(
        {"model": "gpt-4o-mini", "batchingEnabled": True, "batchMaxSize": 60_000}, "openAI"
    )
    assert found["batchMaxSize"][0].startswith("batchMaxSize must be at most 50,000 for openAI")


def test_optimizing_an_unknown_provider_is_rejected_but_leaving_it_off_is_fine() -> None:
    assert "provider" in field_problems({"optimizationEnabled": True}, "acme-llm")
    assert not OptimizationConfig.from_dict(
        {"model": "x"}, provider="acme-llm"
    ).optimization_enabled


def test_optimizing_an_unknown_claude_model_is_rejected() -> None:
    found = field_problems({"model": "claude-imaginary-9", "cachingEnabled": True}, "anthropic")
    assert "model" in found


def test_switching_a_feature_off_is_always_allowed() -> None:
    config = OptimizationConfig.from_dict(
        {"model": "llama3.1", "batchingEnabled": False, "cachingEnabled": False}, provider="ollama"
    )
    assert not config.batching_enabled


def test_type_problems_and_capability_problems_do_not_hide_each_other() -> None:
    found = field_problems({"model": "llama3.1", "cacheTTL": 7, "batchingEnabled": "yes"}, "ollama")
    assert set(found) == {"cacheTTL", "batchingEnabled"}


def test_the_hints_say_what_a_provider_offers() -> None:
    anthropic = " ".join(capability_hints("anthropic", "claude-sonnet-4-5"))
    assert "100,000 requests" in anthropic and "4 breakpoints" in anthropic
    assert "1,024 tokens" in anthropic
    assert "no Batch API" in " ".join(capability_hints("ollama", "llama3.1"))
    assert "automatically" in " ".join(capability_hints("openAI", "gpt-4o-mini"))


@pytest.mark.parametrize(
    ("flags", "field", "says"),
    [
        ({"cacheTTL": 3600}, "cacheTTL", "cacheTTL cannot be 3600 for openAI"),
        ({"cacheSystemTTL": 3600}, "cacheSystemTTL", "cacheSystemTTL cannot be set for openAI"),
        ({"cacheBreakpoints": "manual"}, "cacheBreakpoints", "cacheBreakpoints cannot be"),
        ({"cacheBreakpoints": "system_only"}, "cacheBreakpoints", "cacheBreakpoints cannot be"),
        ({"cacheMinTokens": 2048}, "cacheMinTokens", "cacheMinTokens cannot be set for openAI"),
    ],
)
def test_a_caching_setting_an_automatic_cache_ignores_is_refused_with_the_reason(
    flags: dict[str, Any], field: str, says: str
) -> None:
    configuration = {"model": "gpt-4o-mini", "cachingEnabled": True, **flags}
    [message] = field_problems(configuration, "openAI")[field]
    assert message.startswith(says) and "automatically" in message


@pytest.mark.parametrize("provider", ["gemini", "mistral", "xai", "azureOpenAI"])
def test_every_automatic_caching_provider_refuses_a_longer_lifetime(provider: str) -> None:
    found = field_problems({"model": "m", "cachingEnabled": True, "cacheTTL": 3600}, provider)
    assert list(found) == ["cacheTTL"]


def test_caching_on_an_automatic_provider_with_the_defaults_is_fine() -> None:
    config = OptimizationConfig.from_dict(
        {"model": "gpt-4o-mini", "optimizationEnabled": True, "cachingEnabled": True},
        provider="openAI",
    )
    assert config.caching_enabled


def test_settings_an_automatic_cache_ignores_are_fine_while_caching_is_off() -> None:
    config = OptimizationConfig.from_dict(
        {"model": "gpt-4o-mini", "cacheTTL": 3600, "cacheBreakpoints": "manual"},
        provider="openAI",
    )
    assert config.cache_ttl == 3600


def test_the_hint_for_an_automatic_cache_says_its_settings_are_refused() -> None:
    hint = " ".join(capability_hints("openAI", "gpt-4o-mini"))
    assert "automatically" in hint and "at their defaults" in hint
