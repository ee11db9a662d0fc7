from __future__ import annotations

import logging

import pytest
from langchain_anthropic import ChatAnthropic

from llmopt.errors import ConfigError
from llmopt.store import SQLiteStore
from llmopt.wrapper import OptimizedLLMWrapper, get_generator_model

BASE = {"model": "claude-sonnet-4-6", "apiKey": "sk-ant-test", "temperature": 0.3, "maxTokens": 256}


def test_an_entry_with_optimization_off_gets_the_bare_model() -> None:
    model = get_generator_model("anthropic", BASE)
    assert type(model) is ChatAnthropic
    assert (model.model, model.temperature, model.max_tokens) == ("claude-sonnet-4-6", 0.3, 256)


def test_an_entry_with_optimization_on_gets_the_wrapper() -> None:
    model = get_generator_model(
        "anthropic", {**BASE, "optimizationEnabled": True, "cachingEnabled": True}
    )
    assert isinstance(model, OptimizedLLMWrapper)
    assert isinstance(model.base_model, ChatAnthropic)
    assert model.config.applies_caching


def test_batch_options_reach_the_wrapper() -> None:
    model = get_generator_model(
        "anthropic",
        {**BASE, "optimizationEnabled": True, "batchingEnabled": True},
        batch_options={"poll_max": 2.0},
    )
    assert isinstance(model, OptimizedLLMWrapper)
    assert model.batch_options == {"poll_max": 2.0}


def test_the_model_name_argument_overrides_the_configuration() -> None:
    model = get_generator_model("anthropic", BASE, model_name="claude-haiku-4-5")
    assert isinstance(model, ChatAnthropic) and model.model == "claude-haiku-4-5"


def test_invalid_flags_give_the_bare_model_and_a_logged_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmopt.wrapper"):
        model = get_generator_model(
            "anthropic", {**BASE, "optimizationEnabled": True, "cacheTTL": 7}
        )
    assert type(model) is ChatAnthropic
    assert "cacheTTL must be 300 or 3600 seconds" in caplog.text
    assert "sk-ant-test" not in caplog.text


def test_a_provider_whose_package_is_missing_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="pip install langchain-groq"):
        get_generator_model("groq", {"model": "llama-3.3-70b-versatile"})


def test_an_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot build a chat model for 'acme'"):
        get_generator_model("acme", {"model": "m"})


def test_a_missing_model_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="model must name the model"):
        get_generator_model("anthropic", {"apiKey": "k"})


def test_a_whole_entry_is_read_for_its_key_url_and_nested_block() -> None:
    entry = {
        "provider": "anthropic",
        "configuration": {**BASE, "baseUrl": "http://127.0.0.1:9/"},
        "optimization": {"cache": {"enabled": True, "default_ttl_seconds": 3600}},
    }
    model = get_generator_model("anthropic", entry)
    assert isinstance(model, OptimizedLLMWrapper)
    assert model.config.applies_caching and model.config.cache_ttl == 3600
    base = model.base_model
    assert isinstance(base, ChatAnthropic)
    assert base.anthropic_api_key.get_secret_value() == "sk-ant-test"
    assert base.anthropic_api_url == "http://127.0.0.1:9/"


def test_enable_optimization_false_gives_the_bare_model() -> None:
    model = get_generator_model(
        "anthropic", {**BASE, "optimizationEnabled": True, "cachingEnabled": True}, None, False
    )
    assert type(model) is ChatAnthropic


def test_an_entry_of_another_provider_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="the entry's provider is 'openAI'"):
        get_generator_model("anthropic", {"provider": "openAI", "configuration": BASE})


def test_with_a_store_the_wrapper_is_returned_while_off_and_keyed_by_model_key() -> None:
    store = SQLiteStore(":memory:")
    entry = {"provider": "anthropic", "modelKey": "indexing", "configuration": BASE}
    model = get_generator_model("anthropic", entry, store=store)
    try:
        assert isinstance(model, OptimizedLLMWrapper)
        assert model.entry_key == "indexing"
        assert not model.is_optimized  # the flags are off; an edit turns them on live
    finally:
        assert model.watcher is not None and model.recorder is not None
        model.watcher.stop()
        model.recorder.stop()
