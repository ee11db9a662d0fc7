from __future__ import annotations

from typing import Any

import pytest

from llmopt.config import FLAG_NAMES, OptimizationConfig
from llmopt.errors import ConfigError


def problems(configuration: Any, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as caught:
        OptimizationConfig.from_dict(configuration, **kwargs)
    return caught.value.by_field()


def test_an_entry_without_flags_gets_the_safe_defaults() -> None:
    config = OptimizationConfig.from_dict({"model": "claude-sonnet-4-5"}, provider="anthropic")
    assert config.flags() == {
        "optimizationEnabled": False,
        "batchingEnabled": False,
        "batchMaxSize": 10000,
        "batchTimeout": 30,
        "cachingEnabled": False,
        "cacheTTL": 300,
        "cacheSystemTTL": None,
        "cacheBreakpoints": "auto",
        "cacheMinTokens": None,
        "fallbackToStandard": True,
        "logFallbacks": True,
        "optimizationStrategy": "auto",
    }
    assert not config.applies_caching
    assert not config.applies_batching


def test_flags_without_the_master_switch_apply_nothing() -> None:
    config = OptimizationConfig.from_dict({"cachingEnabled": True, "batchingEnabled": True})
    assert not config.applies_caching
    assert not config.applies_batching


@pytest.mark.parametrize(
    ("strategy", "caching", "batching"),
    [
        ("auto", True, True),
        ("both", True, True),
        ("cache_only", True, False),
        ("batch_only", False, True),
    ],
)
def test_the_strategy_decides_which_enabled_optimizations_apply(
    strategy: str, caching: bool, batching: bool
) -> None:
    config = OptimizationConfig.from_dict(
        {
            "optimizationEnabled": True,
            "cachingEnabled": True,
            "batchingEnabled": True,
            "optimizationStrategy": strategy,
        }
    )
    assert (config.applies_caching, config.applies_batching) == (caching, batching)


@pytest.mark.parametrize(
    ("field", "value", "sentence"),
    [
        (
            "cacheTTL",
            600,
            "cacheTTL must be 300 or 3600 seconds (the provider offers no other lifetime), "
            "or 'auto' to choose per prefix from its observed re-use gaps",
        ),
        ("cacheTTL", "hourly", "cacheTTL must be 300 or 3600 seconds"),
        ("cacheTTL", "300", "cacheTTL must be 300 or 3600 seconds"),
        ("cacheTTL", 300.5, "cacheTTL must be 300 or 3600 seconds"),
        ("batchMaxSize", 0, "batchMaxSize must be a whole number from 1 to 100,000"),
        ("batchMaxSize", 100_001, "batchMaxSize must be a whole number from 1 to 100,000"),
        ("batchMaxSize", True, "batchMaxSize must be a whole number"),
        ("batchTimeout", -5, "batchTimeout must be a whole number of seconds from 1 to 3,600"),
        ("batchTimeout", 1.5, "batchTimeout must be a whole number of seconds"),
        ("optimizationEnabled", "yes", "optimizationEnabled must be true or false"),
        ("cachingEnabled", 1, "cachingEnabled must be true or false"),
        ("fallbackToStandard", None, "fallbackToStandard must be true or false"),
        (
            "cacheBreakpoints",
            "everywhere",
            "cacheBreakpoints must be one of 'auto', 'system_only' or 'manual'",
        ),
        (
            "optimizationStrategy",
            "cheap",
            "optimizationStrategy must be one of 'auto', 'batch_only'",
        ),
    ],
)
def test_it_rejects_an_invalid_value_with_a_sentence_about_its_field(
    field: str, value: Any, sentence: str
) -> None:
    found = problems({field: value})
    assert list(found) == [field]
    assert found[field][0].startswith(sentence)


def test_it_shows_the_rejected_value() -> None:
    assert problems({"cacheTTL": 600})["cacheTTL"] == [
        "cacheTTL must be 300 or 3600 seconds (the provider offers no other lifetime), "
        "or 'auto' to choose per prefix from its observed re-use gaps (got 600)"
    ]


def test_it_reports_every_problem_at_once() -> None:
    found = problems(
        {"cacheTTL": 1, "batchMaxSize": -1, "optimizationEnabled": "on", "cacheBreakpoints": 3}
    )
    assert set(found) == {"cacheTTL", "batchMaxSize", "optimizationEnabled", "cacheBreakpoints"}


@pytest.mark.parametrize("configuration", [None, [], "text", 42, ["cacheTTL"]])
def test_a_configuration_that_is_not_an_object_is_a_config_error(configuration: Any) -> None:
    assert "" in problems(configuration)


def test_to_dict_keeps_every_field_it_does_not_know() -> None:
    original = {
        "model": "claude-sonnet-4-5",
        "apiKey": "sk-ant-secret",
        "temperature": 0.2,
        "custom": {"nested": [1, 2]},
        "cachingEnabled": True,
    }
    written = OptimizationConfig.from_dict(original, provider="anthropic").to_dict()
    assert {k: written[k] for k in ("model", "apiKey", "temperature", "custom")} == {
        k: original[k] for k in ("model", "apiKey", "temperature", "custom")
    }
    assert written["cachingEnabled"] is True
    assert set(written) == {"model", "apiKey", "temperature", "custom", *FLAG_NAMES}


def test_with_flags_validates_the_change() -> None:
    config = OptimizationConfig.from_dict({"model": "claude-sonnet-4-5"})
    assert config.with_flags({"cacheTTL": 3600}).cache_ttl == 3600
    with pytest.raises(ConfigError):
        config.with_flags({"cacheTTL": 3601})


def test_the_flag_names_are_the_architecture_table_and_the_migration_guides_three() -> None:
    assert FLAG_NAMES == (
        "optimizationEnabled",
        "batchingEnabled",
        "batchMaxSize",
        "batchTimeout",
        "cachingEnabled",
        "cacheTTL",
        "cacheSystemTTL",  # the guide's cache.domain_definitions_ttl_seconds
        "cacheBreakpoints",
        "cacheMinTokens",  # the guide's cache.min_tokens_to_cache
        "fallbackToStandard",
        "logFallbacks",  # the guide's fallback.log_failures
        "optimizationStrategy",
    )


def test_the_system_prompts_lifetime_may_be_longer_than_the_rests_never_shorter() -> None:
    config = OptimizationConfig.from_dict({"cacheTTL": 300, "cacheSystemTTL": 3600})
    assert config.cache_system_ttl == 3600
    found = problems({"cacheTTL": 3600, "cacheSystemTTL": 300})
    assert found["cacheSystemTTL"] == [
        "cacheSystemTTL cannot be 300 while cacheTTL is 3600: a 1-hour cache entry may not "
        "follow a 5-minute one; leave it null or make it 3600"
    ]
