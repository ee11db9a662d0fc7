"""The migration guide, step by step, as a backend team follows it (``guide.py`` is its code)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from llmopt import OptimizationConfig, OptimizedLLMWrapper, get_generator_model
from llmopt.config import load_document
from llmopt.killswitch import read_kill_switch, release_kill_switch
from llmopt.migrate import migrate
from llmopt.sandbox import FaultRule, SandboxServer
from llmopt.store import SQLiteStore

from ..waiting import wait_until
from . import guide
from .conftest import GUIDE_KEY, GUIDE_MODEL, at_sandbox, edit_entry, load_test_config, words

DOCUMENT = words(3_000)  # a document long enough for the model's 1,024-token minimum


def enable_cache(entry: dict[str, Any]) -> None:
    """Step 3, as the guide writes it: ``optimization.cache.enabled`` from false to true."""
    entry["optimization"]["cache"]["enabled"] = True


def disable_cache(entry: dict[str, Any]) -> None:
    """Rollback Option 1, as the guide writes it."""
    entry["optimization"]["cache"]["enabled"] = False


@pytest.fixture
def live(store: SQLiteStore) -> Iterator[list[OptimizedLLMWrapper]]:
    """Models made with a store; their watcher and recorder stop after the test."""
    models: list[OptimizedLLMWrapper] = []
    yield models
    for model in models:
        assert model.watcher is not None and model.recorder is not None
        model.watcher.stop()
        model.recorder.stop()


def live_model(store: SQLiteStore, live: list[OptimizedLLMWrapper]) -> OptimizedLLMWrapper:
    release_kill_switch(store, actor="test")
    model = get_generator_model("anthropic", load_test_config(store), GUIDE_MODEL, store=store)
    assert isinstance(model, OptimizedLLMWrapper)
    live.append(model)
    assert model.watcher is not None
    assert model.watcher.wait_for(lambda snapshot: snapshot.available, timeout=5)
    return model


def expect_optimized(model: OptimizedLLMWrapper, optimized: bool) -> None:
    """The model is (or is not) optimized once its watcher has read the store again, as
    its next tick would; read now rather than a tick later, to keep the test fast."""
    watcher = model.watcher
    assert watcher is not None

    def read_again() -> bool:
        watcher.refresh()
        return model.is_optimized is optimized

    wait_until(read_again, timeout=5, what=f"is_optimized to be {optimized}")


# -- Step 1: Add Configuration (ArangoDB) ----------------------------------------------


def test_step_1_the_block_beside_the_configuration_is_read_and_starts_disabled(
    store: SQLiteStore,
) -> None:
    entry = load_document(store).entry(GUIDE_KEY)

    assert entry.problems == ()
    assert entry.config is not None
    assert entry.config.flags() | {"cacheSystemTTL": None} == {
        "optimizationEnabled": False,
        "batchingEnabled": False,
        "batchMaxSize": 10_000,
        "batchTimeout": 30,
        "cachingEnabled": False,  # "Start disabled!"
        "cacheTTL": 300,  # default_ttl_seconds
        "cacheSystemTTL": None,
        "cacheBreakpoints": "auto",  # auto_detect_cacheable
        "cacheMinTokens": 1024,  # min_tokens_to_cache
        "fallbackToStandard": True,  # fallback.enabled
        "logFallbacks": True,  # fallback.log_failures
        "optimizationStrategy": "auto",
    }


def test_step_1_the_migration_keeps_the_block_and_makes_the_flags_mean_what_they_say(
    store: SQLiteStore, tmp_path: Path
) -> None:
    before = load_test_config(store)
    assert read_kill_switch(store).engaged  # a new store has no record: nothing optimized

    report = migrate(store, actor="cli:admin", backup_dir=tmp_path)

    assert load_test_config(store) == before
    assert not report.changes
    assert not read_kill_switch(store).engaged


# -- Step 2: Update Model Creation --------------------------------------------------------


def test_step_2_the_service_starts_wraps_its_model_and_answers_as_before(
    store: SQLiteStore, sandbox: SandboxServer
) -> None:
    config = load_test_config(store)

    service = guide.IndexingService(config)
    before = guide.IndexingServiceBefore(config)

    assert isinstance(service.model, OptimizedLLMWrapper)
    assert not service.model.is_optimized  # the block says enabled: false
    reply = service.index_content("Invoice 42 from ACME, due on 1 March.")
    assert isinstance(reply, AIMessage)
    assert reply.content == before.index_content("Invoice 42 from ACME, due on 1 March.").content
    assert sandbox.billing().total.cache_write_5m_tokens == 0


# -- Step 3: Enable Optimization (When Ready) ---------------------------------------------


def test_step_3_enabling_the_cache_in_the_database_turns_caching_on(
    store: SQLiteStore, sandbox: SandboxServer
) -> None:
    edit_entry(store, enable_cache)

    service = guide.IndexingService(load_test_config(store))
    for _ in range(3):  # the same document indexed again, as re-indexing does
        service.index_content(DOCUMENT)

    assert service.model.is_optimized
    billed = sandbox.billing().total
    assert billed.cache_write_5m_tokens > 0  # the second sighting marks the document
    assert billed.cache_read_tokens > 0  # the third reads it at a tenth of the price
    stats = service.model.get_cache_stats()
    assert stats.cache_read_tokens == billed.cache_read_tokens
    assert stats.savings_usd is not None and stats.savings_usd > 0


def test_step_3_reaches_a_running_backend_without_a_restart(
    store: SQLiteStore, sandbox: SandboxServer, live: list[OptimizedLLMWrapper]
) -> None:
    model = live_model(store, live)
    expect_optimized(model, optimized=False)

    edit_entry(store, enable_cache)

    expect_optimized(model, optimized=True)
    for _ in range(3):
        model.invoke([SystemMessage("Extract key information..."), HumanMessage(DOCUMENT)])
    assert sandbox.billing().total.cache_read_tokens > 0


# -- Rollback Plan ------------------------------------------------------------------------


def test_rollback_option_1_disabling_the_cache_in_the_database_stops_it(
    store: SQLiteStore, sandbox: SandboxServer, live: list[OptimizedLLMWrapper]
) -> None:
    edit_entry(store, enable_cache)
    model = live_model(store, live)
    expect_optimized(model, optimized=True)

    edit_entry(store, disable_cache)

    expect_optimized(model, optimized=False)
    for _ in range(3):
        model.invoke([SystemMessage("Extract key information..."), HumanMessage(DOCUMENT)])
    billed = sandbox.billing().total
    assert (billed.cache_write_5m_tokens, billed.cache_read_tokens) == (0, 0)
    assert not guide.IndexingService(load_test_config(store)).model.is_optimized


def test_rollback_option_1_also_stops_caching_that_flat_flags_turned_on(
    store: SQLiteStore, live: list[OptimizedLLMWrapper]
) -> None:
    def flat_and_nested_on(entry: dict[str, Any]) -> None:
        entry["configuration"] |= {"optimizationEnabled": True, "cachingEnabled": True}
        enable_cache(entry)

    edit_entry(store, flat_and_nested_on)
    model = live_model(store, live)
    expect_optimized(model, optimized=True)

    edit_entry(store, disable_cache)

    expect_optimized(model, optimized=False)
    [problem] = load_document(store).entry(GUIDE_KEY).problems
    assert problem.field == "cachingEnabled"
    assert "configuration.cachingEnabled is true but optimization.cache.enabled is false" in (
        problem.message
    )


def test_rollback_option_2_the_environment_variable_turns_the_process_bare(
    store: SQLiteStore,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    edit_entry(store, enable_cache)
    config = load_test_config(store)
    opt_config = OptimizationConfig.from_dict(config["optimization"])
    base_model = get_generator_model("anthropic", config, GUIDE_MODEL, enable_optimization=False)

    monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", "false")
    gated = guide.conditional_wrapper(base_model, config, opt_config)
    service = guide.IndexingService(config)  # code that never read the variable
    with caplog.at_level(logging.WARNING, logger="llmopt.wrapper"):
        for _ in range(3):
            service.index_content(DOCUMENT)

    assert gated is base_model
    assert not service.model.is_optimized
    assert sandbox.billing().total.cache_write_5m_tokens == 0
    assert "LLM_OPTIMIZATION_ENABLED=false in this process's environment" in caplog.text

    monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", "true")
    assert service.model.is_optimized
    assert isinstance(
        guide.conditional_wrapper(base_model, config, opt_config), OptimizedLLMWrapper
    )


def test_rollback_option_3_the_original_code_still_works(store: SQLiteStore) -> None:
    service = guide.IndexingServiceBefore(load_test_config(store))
    service.model = service.model  # "Back to original: self.model = base_model"

    assert not isinstance(service.model, OptimizedLLMWrapper)
    assert service.index_content("Test content").content


# -- Common Migration Patterns ------------------------------------------------------------


def test_pattern_1_the_service_level_wrapper_builds_each_model_once(store: SQLiteStore) -> None:
    edit_entry(store, enable_cache)
    service = guide.AIService(lambda provider: load_test_config(store))

    model = service.get_model("anthropic", GUIDE_MODEL)

    assert isinstance(model, OptimizedLLMWrapper) and model.is_optimized
    assert service.get_model("anthropic", GUIDE_MODEL) is model
    assert model.invoke("Test content").content


def test_pattern_2_the_factory_applies_optimization_if_configured(store: SQLiteStore) -> None:
    edit_entry(store, enable_cache)
    config = load_test_config(store)

    # Automatically applies optimization if configured
    model = get_generator_model("anthropic", config)
    # Explicitly disable optimization
    plain = get_generator_model("anthropic", config, enable_optimization=False)

    assert isinstance(model, OptimizedLLMWrapper) and model.is_optimized
    assert not isinstance(plain, OptimizedLLMWrapper)
    assert isinstance(plain, BaseChatModel)


def test_pattern_2_the_factory_uses_the_entrys_own_key_and_endpoint(
    store: SQLiteStore, sandbox: SandboxServer
) -> None:
    model = get_generator_model("anthropic", load_test_config(store))

    model.invoke("Test content")

    assert sandbox.billing().total.requests_succeeded == 1  # it reached the entry's baseUrl


def test_pattern_3_indexing_keeps_its_domain_definitions_cached_for_an_hour(
    store: SQLiteStore, sandbox: SandboxServer
) -> None:
    edit_entry(store, enable_cache)
    repository = guide.LLMRepository(lambda provider, purpose: load_test_config(store))
    definitions = SystemMessage(words(2_000, "definition"))
    chat = [definitions, HumanMessage("Hi"), AIMessage("Hello."), HumanMessage(DOCUMENT)]

    repository.get_model("anthropic", purpose="indexing").invoke(chat)
    indexing = sandbox.billing().total
    repository.get_model("anthropic", purpose="general").invoke(
        [SystemMessage(words(2_000, "general")), *chat[1:]]
    )
    both = sandbox.billing().total

    assert indexing.cache_write_1h_tokens > 0  # the definitions, for an hour
    assert indexing.cache_write_5m_tokens > 0  # the conversation, for five minutes
    assert both.cache_write_1h_tokens == indexing.cache_write_1h_tokens  # general: 5 m only
    assert repository.get_model("anthropic", purpose="indexing") is not (
        repository.get_model("anthropic", purpose="general")
    )


# -- Testing Your Migration: the guide's unit and integration tests -------------------------


def test_service_with_optimization(sandbox: SandboxServer) -> None:
    """Test service works with optimization enabled."""
    config = at_sandbox(
        {
            "provider": "anthropic",
            "configuration": {"apiKey": "test"},
            "optimization": {"cache": {"enabled": True}, "provider": "anthropic"},
        },
        sandbox,
    )

    service = guide.IndexingService(config)

    # Should be wrapped
    assert isinstance(service.model, OptimizedLLMWrapper)

    # Should work the same (the guide patches base_model.invoke; the sandbox answers here)
    plain = guide.IndexingServiceBefore({**config, "optimization": {}})
    result = service.index_content("Test content")
    assert result.content == plain.index_content("Test content").content


def test_service_without_optimization(sandbox: SandboxServer) -> None:
    """Test service works without optimization."""
    config = at_sandbox(
        {
            "provider": "anthropic",
            "configuration": {"apiKey": "test"},
            # No optimization key
        },
        sandbox,
    )

    service = guide.IndexingService(config)

    # Should NOT be wrapped
    assert not isinstance(service.model, OptimizedLLMWrapper)


def test_end_to_end_with_caching(store: SQLiteStore, sandbox: SandboxServer) -> None:
    """Test full workflow with caching enabled."""
    # Load real config from test DB
    edit_entry(store, enable_cache)
    config = load_test_config(store)

    # Create service
    service = guide.IndexingService(config)

    # First request - creates cache
    service.index_content("Test document")
    stats1 = service.model.get_cache_stats()

    # Second request - uses cache
    service.index_content("Another document")
    stats2 = service.model.get_cache_stats()

    # Verify caching working
    assert stats2.cached_blocks >= stats1.cached_blocks

    # What the guide does not say: its prompt ("Extract key information...") is far below
    # the model's 1,024-token minimum, so no provider would cache it. No breakpoint is
    # placed and no cache write is paid for; every block is counted.
    assert (stats2.cached_blocks, stats2.total_content_blocks) == (0, 4)
    assert sandbox.billing().total.cache_write_5m_tokens == 0


# -- Monitoring Post-Migration ------------------------------------------------------------


def test_the_log_lines_the_guide_says_to_look_for(
    store: SQLiteStore, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    edit_entry(store, enable_cache)
    config = load_test_config(store)
    config["configuration"]["maxRetries"] = 0  # the SDK's own retries would hide the fault
    system = SystemMessage(words(2_000, "definition"))
    with caplog.at_level(logging.INFO, logger="llmopt.wrapper"):
        model = get_generator_model("anthropic", config)
        sandbox.add_fault(FaultRule.fail_next(1, "overloaded"))
        model.invoke([system, HumanMessage("question")])
        OptimizedLLMWrapper(
            get_generator_model("anthropic", config, enable_optimization=False),
            "cohere",
            OptimizationConfig.from_dict({"cache": {"enabled": True}}),
        )

    assert "Cache optimization enabled for provider: anthropic" in caplog.text
    assert "Cache optimization failed, falling back to standard API" in caplog.text
    assert "Cache optimization requested but not supported by provider: cohere" in caplog.text


def test_fallbacks_are_logged_at_debug_level_when_log_failures_is_false(
    store: SQLiteStore, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    def quiet(entry: dict[str, Any]) -> None:
        enable_cache(entry)
        entry["optimization"]["fallback"]["log_failures"] = False
        entry["configuration"]["maxRetries"] = 0

    edit_entry(store, quiet)
    model = get_generator_model("anthropic", load_test_config(store))
    sandbox.add_fault(FaultRule.fail_next(1, "overloaded"))
    with caplog.at_level(logging.DEBUG, logger="llmopt.wrapper"):
        model.invoke([SystemMessage(words(2_000, "definition")), HumanMessage("question")])

    [record] = [r for r in caplog.records if "falling back to standard API" in r.message]
    assert record.levelno == logging.DEBUG
    assert model.get_cache_stats().fallbacks == 1


async def test_the_monitoring_endpoint_reports_each_service(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_entry(store, enable_cache)
    indexing = guide.IndexingService(load_test_config(store))
    for _ in range(3):
        await indexing.model.ainvoke(
            [{"role": "system", "content": "Extract key information..."}, ("user", DOCUMENT)]
        )
    monkeypatch.setattr(guide, "SERVICES", {"indexing": indexing, "plain": object()})

    stats = await guide.app.routes["/api/monitoring/llm-optimization"]()

    cache = indexing.model.get_cache_stats()
    assert stats == {
        "indexing": {
            "total_blocks": 6,
            "cached_blocks": 2,  # the document, marked on its second and third sightings
            "estimated_tokens": cache.estimated_cached_tokens,
            "hit_rate": f"{cache.cache_hit_potential:.1%}",
            "is_optimized": True,
        }
    }
    assert 0 < cache.cache_hit_potential < 1
    assert cache.estimated_cached_tokens > 2 * 2_500


# -- Troubleshooting Migration Issues -----------------------------------------------------


def test_type_hints_and_mocks_of_base_chat_model_fit_the_wrapper(store: SQLiteStore) -> None:
    edit_entry(store, enable_cache)
    service = guide.MyService(lambda: guide.IndexingService(load_test_config(store)).model)

    assert isinstance(service.model, BaseChatModel)  # "Works with wrapper!"


def test_the_guides_timing_snippet_runs(store: SQLiteStore) -> None:
    edit_entry(store, enable_cache)
    model = guide.IndexingService(load_test_config(store)).model
    messages = [("system", "Extract key information..."), ("user", "Test content")]

    start = time.time()
    response = model.invoke(messages)
    duration = time.time() - start

    print(f"Request took {duration:.3f}s")
    assert response.content
