"""The response cache in real calls: the wrapper, LangChain's cache interface, the kill switch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic

from llmopt import get_generator_model
from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.responses import (
    METADATA_KEY,
    LangChainResponseCache,
    LLMCacheLayer,
    SQLiteResponses,
    response_cache_for,
)
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore
from llmopt.wrapper._watcher import watcher_for

MODEL = "claude-sonnet-4-6"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def entry(sandbox: SandboxServer, **configuration: Any) -> dict[str, Any]:
    return {
        "provider": "anthropic",
        "modelKey": "claude",
        "configuration": {
            "model": MODEL,
            "apiKey": sandbox.api_key,
            "baseUrl": sandbox.base_url,
            "maxTokens": 32,
            "maxRetries": 0,
            "responseCache": {"enabled": True},
            **configuration,
        },
    }


def open_store(tmp_path: Path, *entries: dict[str, Any]) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "store.db")
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": list(entries)},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="t")
    watcher_for(store).refresh()
    return store


def calls(sandbox: SandboxServer) -> int:
    billed = sandbox.billing().models.get(MODEL)
    return 0 if billed is None else billed.requests_succeeded


def test_a_repeated_question_is_answered_without_a_call(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    item = entry(sandbox)
    store = open_store(tmp_path, item)
    model = get_generator_model("anthropic", item, store=store, entry_key="claude")

    first = model.invoke("What is the capital of France?")
    second = model.invoke("What is the capital of France?")
    streamed = list(model.stream("What is the capital of France?"))

    assert calls(sandbox) == 1
    assert second.content == first.content
    report = second.response_metadata[METADATA_KEY]
    assert report["hit"] == "exact" and report["saved_usd"] > 0
    assert "".join(str(c.content) for c in streamed) == first.content
    stats = response_cache_for(store).get_cache_stats()["claude"]
    assert (stats.exact_hits, stats.misses, stats.stored) == (2, 1, 1)
    assert (tmp_path / "store.db.responses.sqlite3").exists()


def test_the_kill_switch_turns_the_response_cache_off(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    item = entry(sandbox)
    store = open_store(tmp_path, item)
    model = get_generator_model("anthropic", item, store=store, entry_key="claude")
    model.invoke("Hello")
    engage_kill_switch(store, actor="oncall", reason="wrong answers served")
    watcher_for(store).refresh()

    answer = model.invoke("Hello")

    assert calls(sandbox) == 2
    assert METADATA_KEY not in answer.response_metadata


def test_an_entry_that_has_not_opted_in_calls_every_time(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    item = entry(sandbox, responseCache={"enabled": False})
    store = open_store(tmp_path, item)
    model = get_generator_model("anthropic", item, store=store, entry_key="claude")

    model.invoke("Hello")
    model.invoke("Hello")

    assert calls(sandbox) == 2


def test_a_request_with_a_temperature_is_not_reused(tmp_path: Path, sandbox: SandboxServer) -> None:
    item = entry(sandbox, temperature=0.8)
    store = open_store(tmp_path, item)
    model = get_generator_model("anthropic", item, store=store, entry_key="claude")

    model.invoke("Tell me a story")
    model.invoke("Tell me a story")

    assert calls(sandbox) == 2


def test_any_langchain_model_can_use_it_through_langchains_cache(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    layer = LLMCacheLayer(SQLiteResponses(tmp_path / "answers.sqlite3"))
    cache = LangChainResponseCache(layer)
    model = ChatAnthropic(  # type: ignore[call-arg]
        model=MODEL,
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        max_tokens=32,
        max_retries=0,
        cache=cache,
    )

    first = model.invoke("Name a prime number")
    second = model.invoke("Name a prime number")

    assert calls(sandbox) == 1
    assert second.content == first.content
    assert layer.get_cache_stats()["langchain"].exact_hits == 1
    layer.close()
    layer.backend.close()


def test_in_a_complete_outage_the_router_answers_from_a_stored_answer(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    from llmopt.failover import circuit_board_for
    from llmopt.routing import get_routed_model

    item = entry(sandbox)
    store = SQLiteStore(tmp_path / "store.db")
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [item], "routing": {"enabled": True, "fallbackChain": ["claude"]}},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="t")
    watcher_for(store).refresh()
    model = get_routed_model(store)
    first = model.invoke("What is the capital of France?")
    circuit_board_for(store).force("claude", "open", actor="oncall", reason="provider down")

    stored = model.invoke("What is the capital of France?")

    assert calls(sandbox) == 1
    assert stored.content == first.content
    assert stored.response_metadata["llmopt_failover"]["stored_response"] is True
    model.close()


def test_a_reworded_question_is_served_by_meaning_with_the_offline_model(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    item = entry(sandbox, responseCache={"enabled": True, "semantic": True})
    store = open_store(tmp_path, item)
    model = get_generator_model("anthropic", item, store=store, entry_key="claude")

    first = model.invoke("How do I reset my password on the website?")
    reworded = model.invoke("How can I reset my password on the website?")
    other = model.invoke("How do I delete my account on the website?")

    assert calls(sandbox) == 2  # the first and the different question
    report = reworded.response_metadata[METADATA_KEY]
    assert report["hit"] == "semantic" and reworded.content == first.content
    assert report["stored_question"] == "How do I reset my password on the website?"
    assert METADATA_KEY not in other.response_metadata
