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
