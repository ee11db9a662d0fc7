"""The wrapper under the design documents' names and shapes, and the process's env switch."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import ValidationError

import llmopt.wrapper._wrapper as wrapper_module
from llmopt.caching import CacheManager
from llmopt.config import OptimizationConfig
from llmopt.errors import ConfigError
from llmopt.providers import ProviderCapabilities
from llmopt.sandbox import SandboxServer
from llmopt.store import SQLiteStore
from llmopt.wrapper import OptimizedLLMWrapper, UsageRecorder

from .conftest import CACHING, MODEL, SYSTEM, chat, words


def test_two_arguments_take_the_provider_from_the_base_model(sandbox: SandboxServer) -> None:
    model = OptimizedLLMWrapper(chat(sandbox), OptimizationConfig.from_dict(CACHING))
    assert model.provider == "anthropic"
    assert model.entry_key == f"anthropic:{MODEL}"
    assert model.is_optimized


def test_a_dict_config_as_second_argument_works_too(sandbox: SandboxServer) -> None:
    model = OptimizedLLMWrapper(chat(sandbox), {"cache": {"enabled": True}})
    assert model.provider == "anthropic" and model.is_optimized


def test_a_config_for_another_provider_than_the_base_model_is_a_config_error(
    sandbox: SandboxServer,
) -> None:
    block = OptimizationConfig.from_dict({"cache": {"enabled": True}, "provider": "openAI"})
    with pytest.raises(ConfigError, match="for provider 'openAI' but the base model"):
        OptimizedLLMWrapper(chat(sandbox), block)


def test_a_bad_config_is_a_config_error_not_pydantics(sandbox: SandboxServer) -> None:
    with pytest.raises(ConfigError) as caught:
        OptimizedLLMWrapper(chat(sandbox), "anthropic", {"cacheTTL": 7})
    assert not isinstance(caught.value, ValidationError)
    assert "cacheTTL" in caught.value.by_field()


def test_a_model_whose_provider_cannot_be_told_is_passed_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmopt.wrapper"):
        model = OptimizedLLMWrapper(FakeListChatModel(responses=["hi"]), CACHING)
    assert model.provider == "unknown" and not model.is_optimized
    assert model.invoke("x").content == "hi"
    assert "cannot tell the provider of FakeListChatModel" in caplog.text


def test_wrapping_a_wrapper_wraps_its_base_and_keeps_its_store(sandbox: SandboxServer) -> None:
    store = SQLiteStore(":memory:")
    recorder = UsageRecorder(store)
    inner = OptimizedLLMWrapper(
        chat(sandbox), "anthropic", {}, store=store, entry_key="main", recorder=recorder
    )
    outer = OptimizedLLMWrapper(inner, OptimizationConfig.from_dict(CACHING))
    try:
        assert outer.base_model is inner.base_model
        assert (outer.store, outer.entry_key, outer.provider) == (store, "main", "anthropic")
    finally:
        assert inner.watcher is not None
        inner.watcher.stop()


@pytest.mark.parametrize("value", ["false", "0", "OFF", "no", "flase"])
def test_the_environment_variable_turns_every_wrapper_bare(
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    value: str,
) -> None:
    model = OptimizedLLMWrapper(chat(sandbox), "anthropic", CACHING)
    # Said once per process and reason: an earlier test may have said it already.
    monkeypatch.setattr(wrapper_module, "_env_reason_logged", [None])
    monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", value)
    with caplog.at_level(logging.WARNING, logger="llmopt.wrapper"):
        model.invoke([SystemMessage(SYSTEM), HumanMessage("q")])
    assert not model.is_optimized
    assert sandbox.billing().total.cache_write_5m_tokens == 0
    assert "LLM_OPTIMIZATION_ENABLED" in caplog.text


@pytest.mark.parametrize("value", ["true", "1", "", "yes"])
def test_the_environment_variable_set_to_true_leaves_the_flags_in_charge(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", value)
    model = OptimizedLLMWrapper(chat(sandbox), "anthropic", CACHING)
    model.invoke([SystemMessage(SYSTEM), HumanMessage("q")])
    assert model.is_optimized
    assert sandbox.billing().total.cache_write_5m_tokens > 0


def test_the_cache_stats_read_by_attribute_and_by_key(sandbox: SandboxServer) -> None:
    model = OptimizedLLMWrapper(chat(sandbox), "anthropic", CACHING)
    model.invoke([SystemMessage(SYSTEM), HumanMessage(words(500, "question"))])

    stats = model.get_cache_stats()

    assert stats["calls"] == stats.calls == 1
    assert dict(stats)["cached_blocks"] == stats.cached_blocks == 1
    assert stats.total_content_blocks == 2
    assert stats.estimated_cached_tokens > 0
    assert 0 < stats.cache_hit_potential < 1
    assert set(stats) == set(stats.as_dict())


def test_the_planners_block_counts_reach_the_usage_roll_ups(sandbox: SandboxServer) -> None:
    store = SQLiteStore(":memory:")
    recorder = UsageRecorder(store)
    model = OptimizedLLMWrapper(chat(sandbox), "anthropic", CACHING, recorder=recorder)
    for _ in range(2):
        model.invoke([SystemMessage(SYSTEM), HumanMessage(words(1_500, "same"))])
    recorder.flush()

    now = datetime.now(UTC)
    [rollup] = store.usage(start=now - timedelta(hours=1), end=now + timedelta(hours=1))
    stats = model.get_cache_stats()
    assert (rollup.content_blocks, rollup.cached_blocks) == (4, 3)  # 1 + 2 breakpoints
    assert rollup.estimated_cached_tokens == stats.estimated_cached_tokens
    assert rollup.estimated_input_tokens == stats.estimated_input_tokens


def test_the_cache_manager_marks_langchain_messages_block_for_block() -> None:
    config = OptimizationConfig.from_dict(CACHING)
    manager = CacheManager(ProviderCapabilities.detect("anthropic", MODEL), config)
    result = ToolMessage(words(1_500, "rows"), tool_call_id="call_1")
    messages = [
        SystemMessage(SYSTEM),
        HumanMessage("Look it up."),
        AIMessage("", tool_calls=[{"name": "lookup", "args": {}, "id": "call_1"}]),
        result,
    ]

    marked = manager.add_cache_markers(messages)

    assert marked[1] is messages[1] and marked[2] is messages[2]  # unmarked: not copied
    assert marked[0].content[0]["cache_control"] == {"type": "ephemeral"}  # type: ignore[index]
    assert marked[3].content[0]["cache_control"] == {"type": "ephemeral"}  # type: ignore[index]
    assert messages[3].content == result.content


def test_the_wrappers_cache_manager_shares_its_memory(sandbox: SandboxServer) -> None:
    model = OptimizedLLMWrapper(chat(sandbox), "anthropic", CACHING)
    messages = [HumanMessage(words(1_500, "same question"))]
    model.invoke(messages)  # the wrapper has now seen it once

    marked = model.cache_manager.add_cache_markers(messages)

    assert isinstance(marked[0].content, list) and "cache_control" in marked[0].content[0]
