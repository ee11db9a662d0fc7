from __future__ import annotations

import pytest

from llmopt.config import OptimizationConfig
from llmopt.config._legacy import FLAT_FLAGS
from llmopt.config._schema import FLAG_NAMES
from llmopt.errors import ConfigError

NESTED = {
    "model": "claude-sonnet-4-5",
    "optimization": {
        "provider": "anthropic",
        "strategy": "cache_only",
        "cache": {"enabled": True, "ttl": "1h", "breakpoints": "system_only"},
        "batch": {"enabled": False, "maxSize": 5000, "timeout": 60},
        "fallback": {"enabled": False},
    },
}


def test_it_normalises_the_nested_form_to_the_flat_flags() -> None:
    config = OptimizationConfig.from_dict(NESTED, provider="anthropic")
    assert config.flags() == {
        "optimizationEnabled": True,
        "batchingEnabled": False,
        "batchMaxSize": 5000,
        "batchTimeout": 60,
        "cachingEnabled": True,
        "cacheTTL": 3600,
        "cacheBreakpoints": "system_only",
        "fallbackToStandard": False,
        "optimizationStrategy": "cache_only",
    }


def test_writing_back_gives_the_flat_form_only() -> None:
    written = OptimizationConfig.from_dict(NESTED, provider="anthropic").to_dict()
    assert "optimization" not in written
    assert written["cacheTTL"] == 3600
    assert written["model"] == "claude-sonnet-4-5"


def test_flat_fields_win_over_the_nested_form() -> None:
    config = OptimizationConfig.from_dict({**NESTED, "cacheTTL": 300})
    assert config.cache_ttl == 300


def test_an_explicit_nested_master_switch_is_respected() -> None:
    configuration = {"optimization": {"enabled": False, "cache": {"enabled": True}}}
    assert not OptimizationConfig.from_dict(configuration).optimization_enabled


def test_unknown_nested_keys_survive_a_write_back() -> None:
    configuration = {"optimization": {"cache": {"enabled": True, "warmup": 3}, "owner": "team-a"}}
    written = OptimizationConfig.from_dict(configuration).to_dict()
    assert written["optimization"] == {"cache": {"warmup": 3}, "owner": "team-a"}


def test_a_nested_provider_that_disagrees_with_the_entry_is_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        OptimizationConfig.from_dict({"optimization": {"provider": "openAI"}}, provider="anthropic")
    assert "optimization.provider" in caught.value.by_field()


@pytest.mark.parametrize("block", [[], "on", {"cache": "yes"}, {"batch": [1]}])
def test_a_malformed_nested_form_is_a_config_error(block: object) -> None:
    with pytest.raises(ConfigError):
        OptimizationConfig.from_dict({"optimization": block})


def test_an_invalid_nested_ttl_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        OptimizationConfig.from_dict({"optimization": {"cache": {"ttl": "2h"}}})
    assert "cacheTTL" in caught.value.by_field()


def test_the_legacy_reader_knows_every_flag() -> None:
    assert set(FLAG_NAMES) == FLAT_FLAGS
