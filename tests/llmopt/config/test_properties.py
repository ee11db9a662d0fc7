from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmopt.config import FLAG_NAMES, AIConfigDocument, OptimizationConfig, entry_with_flags
from llmopt.config._nested import looks_like_block
from llmopt.errors import ConfigError

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
plausible = {
    "optimizationEnabled": st.booleans(),
    "batchingEnabled": st.booleans(),
    "batchMaxSize": st.integers(-5, 200_000),
    "batchTimeout": st.integers(-5, 5_000),
    "cachingEnabled": st.booleans(),
    "cacheTTL": st.sampled_from([300, 3600, 60, "5m", "1h"]),
    "cacheSystemTTL": st.sampled_from([None, 300, 3600, 60]),
    "cacheBreakpoints": st.sampled_from(["auto", "system_only", "manual", "other"]),
    "cacheMinTokens": st.none() | st.integers(-5, 2_000_000),
    "fallbackToStandard": st.booleans(),
    "logFallbacks": st.booleans(),
    "optimizationStrategy": st.sampled_from(["auto", "batch_only", "cache_only", "both", "x"]),
}
flag_values = st.fixed_dictionaries(
    {}, optional={name: plausible[name] | json_values for name in FLAG_NAMES}
)
nested_blocks = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.booleans() | json_values,
        "strategy": json_values,
        "provider": st.sampled_from(["anthropic", "openAI"]) | json_values,
        "cache": st.fixed_dictionaries(
            {},
            optional={
                "enabled": st.booleans() | json_values,
                "ttl": st.sampled_from(["5m", "1h", 300]) | json_values,
                "default_ttl_seconds": st.sampled_from([300, 3600, 600]) | json_values,
                "domain_definitions_ttl_seconds": st.sampled_from([300, 3600, None]),
                "breakpoints": st.sampled_from(["auto", "manual", "system_only"]) | json_values,
                "auto_detect_cacheable": st.booleans() | json_values,
                "min_tokens_to_cache": st.integers(0, 5000) | json_values,
            },
        )
        | json_values,
        "batch": st.dictionaries(
            st.sampled_from(["enabled", "maxSize", "timeout", "x"]), json_values
        )
        | json_values,
        "fallback": st.dictionaries(
            st.sampled_from(["enabled", "toStandard", "log_failures"]), st.booleans() | json_values
        ),
    },
)
configurations = st.builds(
    lambda flags, others, nested: {
        **others,
        **flags,
        **({"optimization": nested} if nested else {}),
    },
    flag_values,
    st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    st.none() | nested_blocks | json_values,
)
providers = st.sampled_from(["anthropic", "openAI", "ollama", "bedrock", "nope"]) | st.text(
    max_size=5
)
models = (
    st.none() | st.sampled_from(["claude-sonnet-4-5", "claude-x", "gpt-4o"]) | st.text(max_size=5)
)


@settings(max_examples=400, deadline=None)
@given(configuration=configurations | json_values, provider=st.none() | providers, model=models)
def test_any_input_gives_a_config_or_a_config_error_and_nothing_else(
    configuration: Any, provider: str | None, model: str | None
) -> None:
    try:
        config = OptimizationConfig.from_dict(configuration, provider=provider, model=model)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError must say what is wrong"
        assert all(problem.message for problem in exc.problems)
        return
    written = config.to_dict()
    again = OptimizationConfig.from_dict(written, provider=provider, model=model)
    assert again.flags() == config.flags()
    assert again.to_dict() == written
    if looks_like_block(configuration, frozenset(FLAG_NAMES)):
        return  # the block itself: it has no other fields to keep
    for key, value in configuration.items():
        if key not in FLAG_NAMES and key != "optimization":
            assert written[key] == value or value != value  # NaN is never equal to itself


entries = st.builds(
    lambda provider, configuration, beside: {
        "provider": provider,
        "configuration": {"model": "claude-sonnet-4-5", **configuration},
        **({"optimization": beside} if beside is not None else {}),
    },
    st.sampled_from(["anthropic", "ollama"]),
    st.builds(
        lambda flags, inside: {**flags, **({"optimization": inside} if inside else {})},
        st.fixed_dictionaries({}, optional={name: plausible[name] for name in FLAG_NAMES}),
        st.none() | nested_blocks,
    ),
    st.none() | nested_blocks,
)
changes = st.fixed_dictionaries({}, optional={name: plausible[name] for name in FLAG_NAMES})


@settings(max_examples=400, deadline=None)
@given(item=entries, changed=changes)
def test_an_edit_reads_back_as_asked_wherever_the_entry_keeps_its_flags(
    item: dict[str, Any], changed: dict[str, Any]
) -> None:
    entry = AIConfigDocument({"llm": [item]}, "1").entries[0]
    try:
        result = entry_with_flags(entry.as_item(), changed, entry=entry)
    except ConfigError as exc:
        assert exc.problems
        return
    read = OptimizationConfig.from_dict(
        {**item, **result}, provider=entry.provider, model=entry.model
    )
    current = entry.config.flags() if entry.config is not None else {}
    assert read.flags() == {**read.flags(), **current, **changed}
