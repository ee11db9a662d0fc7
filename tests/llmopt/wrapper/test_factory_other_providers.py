"""The factory builds OpenAI, OpenAI-compatible and Ollama entries with every field applied."""

from __future__ import annotations

import logging

import pytest
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from llmopt.errors import ConfigError
from llmopt.wrapper import get_generator_model
from llmopt.wrapper._model_classes import provider_of


def test_an_openai_entry_gets_chat_openai_with_its_settings() -> None:
    model = get_generator_model(
        "openAI",
        {"model": "gpt-4.1-mini", "apiKey": "sk-test", "temperature": 0.2, "maxTokens": 64},
    )
    assert type(model) is ChatOpenAI
    assert (model.model_name, model.temperature, model.max_tokens) == ("gpt-4.1-mini", 0.2, 64)
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "sk-test"


def test_a_temperature_the_model_does_not_take_is_reported_not_dropped_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmopt.wrapper"):
        model = get_generator_model(
            "openAI", {"model": "gpt-5.4-mini", "apiKey": "k", "temperature": 0.2}
        )
    assert isinstance(model, ChatOpenAI) and model.temperature is None
    assert "gpt-5.4-mini does not take temperature 0.2" in caplog.text


def test_an_openai_entry_behind_a_gateway_still_reports_the_usage_of_streams() -> None:
    model = get_generator_model(
        "openAI", {"model": "gpt-5.4", "apiKey": "k", "baseUrl": "http://gateway.local/v1"}
    )
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://gateway.local/v1"
    assert model.stream_usage is True


def test_an_openai_entry_may_turn_stream_usage_off_and_choose_the_api() -> None:
    model = get_generator_model(
        "openAI",
        {
            "model": "gpt-5.4",
            "apiKey": "k",
            "baseUrl": "http://gateway.local/v1",
            "streamUsage": False,
            "useResponsesApi": True,
        },
    )
    assert isinstance(model, ChatOpenAI)
    assert (model.stream_usage, model.use_responses_api) == (False, True)


def test_an_openai_compatible_entry_speaks_chat_completions_to_its_own_server() -> None:
    model = get_generator_model(
        "openAICompatible", {"model": "qwen3-32b", "baseUrl": "http://vllm.local:8000/v1"}
    )
    assert type(model) is ChatOpenAI
    assert model.openai_api_base == "http://vllm.local:8000/v1"
    assert (model.use_responses_api, model.stream_usage) == (False, True)


def test_an_openai_compatible_entry_without_a_server_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="baseUrl must name the OpenAI-compatible server"):
        get_generator_model("openAICompatible", {"model": "qwen3-32b"})


def test_a_chat_openai_model_counts_as_openai_not_as_a_compatible_server() -> None:
    model = get_generator_model("openAI", {"model": "gpt-5.4", "apiKey": "k"})
    assert provider_of(model) == "openAI"


def test_an_ollama_entry_gets_chat_ollama_with_its_settings() -> None:
    model = get_generator_model(
        "ollama",
        {
            "model": "llama3.1:8b",
            "baseUrl": "http://127.0.0.1:11434",
            "temperature": 0.1,
            "maxTokens": 128,
            "contextLength": 8192,
            "timeout": 12,
        },
    )
    assert type(model) is ChatOllama
    assert (model.model, model.base_url, model.temperature) == (
        "llama3.1:8b",
        "http://127.0.0.1:11434",
        0.1,
    )
    assert (model.num_predict, model.num_ctx) == (128, 8192)
    assert model.client_kwargs == {"timeout": 12}


def test_an_ollama_entry_says_that_max_retries_cannot_apply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmopt.wrapper"):
        model = get_generator_model("ollama", {"model": "llama3.1:8b", "maxRetries": 3})
    assert isinstance(model, ChatOllama)
    assert "maxRetries is not applied" in caplog.text


def test_what_a_model_class_refuses_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="AzureChatOpenAI could not be built: .*api_version"):
        get_generator_model("azureOpenAI", {"model": "gpt-5.4", "apiKey": "k"})
