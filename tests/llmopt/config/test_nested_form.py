"""The migration guide's nested ``optimization`` block, wherever the guide puts it."""

from __future__ import annotations

from typing import Any

import pytest

from llmopt.config import FLAG_NAMES, OptimizationConfig
from llmopt.config._nested import KEYS
from llmopt.errors import ConfigError

MODEL = "claude-sonnet-4-5-20250929"

# The guide's Step 1 block, as written (its comments aside).
GUIDE_BLOCK: dict[str, Any] = {
    "cache": {
        "enabled": False,
        "min_tokens_to_cache": 1024,
        "auto_detect_cacheable": True,
        "default_ttl_seconds": 300,
    },
    "fallback": {"enabled": True, "log_failures": True},
    "provider": "anthropic",
}


def guide_entry(block: dict[str, Any]) -> dict[str, Any]:
    return {
        "_key": "anthropic_config",
        "provider": "anthropic",
        "isDefault": True,
        "configuration": {"apiKey": "sk-ant-test", "model": MODEL},
        "optimization": block,
    }


def problems(value: Any, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as caught:
        OptimizationConfig.from_dict(value, **kwargs)
    return caught.value.by_field()


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda block: block, id="the block itself"),
        pytest.param(guide_entry, id="beside configuration"),
        pytest.param(
            lambda block: {"model": MODEL, "optimization": block}, id="inside configuration"
        ),
    ],
)
def test_the_guides_block_reads_the_same_wherever_it_is(shape: Any) -> None:
    enabled = {**GUIDE_BLOCK, "cache": {**GUIDE_BLOCK["cache"], "enabled": True}}
    config = OptimizationConfig.from_dict(shape(enabled))
    assert config.applies_caching
    assert config.cache_ttl == 300
    assert config.cache_min_tokens == 1024
    assert config.cache_breakpoints == "auto"
    assert config.fallback_to_standard and config.log_fallbacks
    assert config.provider == "anthropic"


def test_the_guides_starting_state_optimizes_nothing() -> None:
    config = OptimizationConfig.from_dict(GUIDE_BLOCK)
    assert not config.optimization_enabled
    assert not config.applies_caching and not config.applies_batching


def test_turning_the_cache_on_turns_optimization_on_as_step_3_expects() -> None:
    config = OptimizationConfig.from_dict({"cache": {"enabled": True}})
    assert config.optimization_enabled and config.applies_caching


def test_an_explicit_master_switch_in_the_block_is_respected() -> None:
    config = OptimizationConfig.from_dict({"enabled": False, "cache": {"enabled": True}})
    assert not config.applies_caching


@pytest.mark.parametrize(
    ("block", "flag", "value"),
    [
        ({"cache": {"default_ttl_seconds": 3600}}, "cacheTTL", 3600),
        ({"cache": {"ttl": "1h"}}, "cacheTTL", 3600),
        ({"cache": {"ttl": "5m"}}, "cacheTTL", 300),
        ({"cache": {"min_tokens_to_cache": 2048}}, "cacheMinTokens", 2048),
        ({"cache": {"domain_definitions_ttl_seconds": 3600}}, "cacheSystemTTL", 3600),
        ({"cache": {"auto_detect_cacheable": False}}, "cacheBreakpoints", "manual"),
        ({"cache": {"auto_detect_cacheable": True}}, "cacheBreakpoints", "auto"),
        (
            {"cache": {"auto_detect_cacheable": True, "breakpoints": "system_only"}},
            "cacheBreakpoints",
            "system_only",
        ),
        ({"cache": {"breakpoints": "manual"}}, "cacheBreakpoints", "manual"),
        ({"batch": {"enabled": True}}, "batchingEnabled", True),
        ({"batch": {"maxSize": 500}}, "batchMaxSize", 500),
        ({"batch": {"timeout": 60}}, "batchTimeout", 60),
        ({"fallback": {"enabled": False}}, "fallbackToStandard", False),
        ({"fallback": {"toStandard": False}}, "fallbackToStandard", False),
        ({"fallback": {"log_failures": False}}, "logFallbacks", False),
        ({"strategy": "cache_only"}, "optimizationStrategy", "cache_only"),
        ({"enabled": True}, "optimizationEnabled", True),
    ],
)
def test_every_key_of_the_block_sets_its_flag(block: dict[str, Any], flag: str, value: Any) -> None:
    assert OptimizationConfig.from_dict(block).flags()[flag] == value


def test_every_flag_can_be_set_from_the_block() -> None:
    assert {key.flag for key in KEYS} == set(FLAG_NAMES)


@pytest.mark.parametrize("ttl", [600, 0, "300", 3601, None, True])
def test_a_ttl_the_provider_does_not_offer_is_an_error_naming_the_key(ttl: Any) -> None:
    found = problems({"cache": {"enabled": True, "default_ttl_seconds": ttl}})
    assert list(found) == ["cacheTTL"]
    assert found["cacheTTL"][0].startswith(
        "optimization.cache.default_ttl_seconds (cacheTTL) must be 300 or 3600 seconds"
    )


@pytest.mark.parametrize(
    ("block", "where"),
    [
        (
            {"cache": {"enabled": True, "warm_up_requests": 3}},
            "optimization.cache.warm_up_requests",
        ),
        ({"cache": {"enable": True}}, "optimization.cache.enable"),
        ({"fallback": {"enabled": True, "retries": 3}}, "optimization.fallback.retries"),
        ({"cache": {"enabled": True}, "owner": "team-a"}, "optimization.owner"),
    ],
)
def test_a_key_llmopt_does_not_know_is_a_problem_never_dropped(
    block: dict[str, Any], where: str
) -> None:
    found = problems(block)
    assert where in found
    assert "is not a setting llmopt knows" in found[where][0]


def test_the_unknown_key_message_lists_the_keys_of_its_section() -> None:
    message = problems({"cache": {"enable": True}})["optimization.cache.enable"][0]
    assert "cache.enabled" in message and "cache.default_ttl_seconds" in message


def test_flat_and_nested_values_that_disagree_are_a_problem() -> None:
    entry = guide_entry({"cache": {"enabled": False}})
    entry["configuration"] |= {"optimizationEnabled": True, "cachingEnabled": True}
    found = problems(entry)
    assert list(found) == ["cachingEnabled"]
    assert (
        "configuration.cachingEnabled is true but optimization.cache.enabled is false"
        in (found["cachingEnabled"][0])
    )


def test_a_block_inside_and_one_beside_that_disagree_are_a_problem() -> None:
    entry = guide_entry({"cache": {"default_ttl_seconds": 3600}})
    entry["configuration"]["optimization"] = {"cache": {"ttl": "5m"}}
    assert "cacheTTL" in problems(entry)


def test_places_that_agree_are_fine() -> None:
    entry = guide_entry({"cache": {"enabled": True, "default_ttl_seconds": 3600}})
    entry["configuration"] |= {"cachingEnabled": True, "cacheTTL": 3600}
    assert OptimizationConfig.from_dict(entry).cache_ttl == 3600


def test_a_block_turning_the_cache_on_disagrees_with_a_flat_master_switch_that_is_off() -> None:
    entry = guide_entry({"cache": {"enabled": True}})
    entry["configuration"]["optimizationEnabled"] = False
    assert "optimizationEnabled" in problems(entry)


def test_auto_detection_on_with_manual_breakpoints_is_a_problem() -> None:
    found = problems({"cache": {"auto_detect_cacheable": True, "breakpoints": "manual"}})
    assert "cacheBreakpoints" in found


def test_auto_detection_that_is_not_a_bool_is_a_problem() -> None:
    found = problems({"cache": {"auto_detect_cacheable": "yes"}})
    assert found["cacheBreakpoints"] == [
        "optimization.cache.auto_detect_cacheable must be true or false (got 'yes')"
    ]


def test_a_block_provider_that_disagrees_with_the_entry_is_an_error() -> None:
    entry = guide_entry({"provider": "openAI"})
    assert "optimization.provider" in problems(entry)


def test_the_whole_entrys_provider_is_used_for_the_capability_check() -> None:
    entry = guide_entry({"batch": {"enabled": True}})
    entry["provider"] = "ollama"
    del entry["optimization"]["batch"]
    entry["optimization"] = {"batch": {"enabled": True}}
    assert "batchingEnabled" in problems(entry)


@pytest.mark.parametrize("block", [[], "on", {"cache": "yes"}, {"batch": [1]}])
def test_a_malformed_block_is_a_config_error(block: object) -> None:
    with pytest.raises(ConfigError):
        OptimizationConfig.from_dict({"model": MODEL, "optimization": block})


def test_writing_back_gives_the_flat_form() -> None:
    written = OptimizationConfig.from_dict(guide_entry({"cache": {"enabled": True}})).to_dict()
    assert "optimization" not in written
    assert written["cachingEnabled"] is True
    assert written["model"] == MODEL


def test_the_sections_read_and_set_flags_by_the_guides_names() -> None:
    config = OptimizationConfig.from_dict(GUIDE_BLOCK)
    assert config.cache.enabled is False
    assert config.cache.default_ttl_seconds == 300
    assert config.fallback.log_failures is True

    config.cache.enabled = True
    config.cache.default_ttl_seconds = 3600
    config.cache.auto_detect_cacheable = False
    config.fallback.log_failures = False

    assert config.applies_caching  # turning the cache on turns optimization on
    assert config.cache_ttl == 3600
    assert config.cache_breakpoints == "manual"
    assert not config.log_fallbacks


def test_a_bad_value_set_through_a_section_names_the_key() -> None:
    config = OptimizationConfig.from_dict(GUIDE_BLOCK)
    with pytest.raises(ConfigError) as caught:
        config.cache.default_ttl_seconds = 600
    assert str(caught.value).startswith(
        "optimization.cache.default_ttl_seconds (cacheTTL) must be 300 or 3600 seconds"
    )
    assert config.cache_ttl == 300


def test_a_setting_llmopt_does_not_have_is_an_attribute_error_naming_the_ones_it_has() -> None:
    config = OptimizationConfig.from_dict(GUIDE_BLOCK)
    with pytest.raises(AttributeError, match="default_ttl_seconds"):
        config.cache.no_such_setting = 1


def test_validate_checks_assigned_flags_against_the_provider() -> None:
    config = OptimizationConfig.from_dict({"provider": "ollama"})
    config.optimization_enabled = True
    config.batch.enabled = True
    with pytest.raises(ConfigError) as caught:
        config.validate()
    assert "batchingEnabled" in caught.value.by_field()
    assert OptimizationConfig.from_dict(GUIDE_BLOCK).validate().provider == "anthropic"
