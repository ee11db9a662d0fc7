"""cacheTTL "auto": accepted wherever the planner places breakpoints, in every shape the
design documents use; refused where the provider caches by itself."""

from __future__ import annotations

import pytest

from llmopt.config import OptimizationConfig
from llmopt.errors import ConfigError


def test_auto_is_accepted_and_written_back_as_it_was_given() -> None:
    config = OptimizationConfig.from_dict(
        {"cachingEnabled": True, "cacheTTL": "auto"}, provider="anthropic"
    )

    assert config.cache_ttl == "auto"
    assert config.to_dict()["cacheTTL"] == "auto"


def test_the_guides_nested_block_takes_auto_too() -> None:
    nested = {"optimization": {"cache": {"enabled": True, "ttl": "auto"}}}
    config = OptimizationConfig.from_dict(nested, provider="anthropic")

    assert config.cache_ttl == "auto"


def test_auto_goes_with_any_system_lifetime() -> None:
    for system_ttl in (None, 300, 3600):
        flags = {"cachingEnabled": True, "cacheTTL": "auto", "cacheSystemTTL": system_ttl}
        assert OptimizationConfig.from_dict(flags).cache_system_ttl == system_ttl


def test_a_provider_that_caches_by_itself_refuses_auto_with_the_reason() -> None:
    with pytest.raises(ConfigError) as caught:
        OptimizationConfig.from_dict(
            {"model": "gpt-4o", "cachingEnabled": True, "cacheTTL": "auto"}, provider="openAI"
        )

    (problem,) = caught.value.by_field()["cacheTTL"]
    assert "caches repeated prefixes automatically" in problem
