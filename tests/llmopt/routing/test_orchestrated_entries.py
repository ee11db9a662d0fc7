"""An entry's orchestration strategy and the quality monitor, through the routed model
and the sandbox's scripted skill (real clients over HTTP, a real SQLite store)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from llmopt.errors import ConfigError
from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.orchestration import ORCHESTRATION_KEY, update_orchestration
from llmopt.quality import quality_tracker_for
from llmopt.quality._code import labelled_language
from llmopt.routing import ROUTE_KEY, get_routed_model
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore
from llmopt.wrapper._watcher import watcher_for

CHEAP, STRONG = "claude-haiku-4-5", "claude-sonnet-4-6"
EPOCH, FAR = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def entry(sandbox: SandboxServer, key: str, model: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "anthropic",
        "modelKey": key,
        "configuration": {
            "model": model,
            "apiKey": sandbox.api_key,
            "baseUrl": sandbox.base_url,
            "maxTokens": 256,
            "maxRetries": 0,
            **extra,
        },
    }


def open_store(tmp_path: Path, sandbox: SandboxServer, **body: Any) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "store.db")
    llm = [
        {**entry(sandbox, "smart", CHEAP), "isDefault": True},
        entry(sandbox, "cheap", CHEAP),
        entry(sandbox, "strong", STRONG),
    ]
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": llm, **body},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="t")
    watcher_for(store).refresh()
    return store


def set_strategy(store: SQLiteStore, key: str, settings: dict[str, Any]) -> None:
    document = store.read_document(DocumentName.AI_CONFIG)
    assert document is not None
    update_orchestration(
        store, key, settings, expected_revision=document.revision, actor="ops", reason="test"
    )
    watcher_for(store).refresh()


def python_quiz(n: int) -> str:
    return f"Write a Python function solve() returning {n} * 3. [quiz python answer={n * 3}]"


@pytest.fixture
def made() -> Iterator[list[Any]]:
    models: list[Any] = []
    yield models
    for model in models:
        model.close()


def test_a_cascade_entry_escalates_code_that_does_not_parse_and_bills_both_calls(
    tmp_path: Path, sandbox: SandboxServer, made: list[Any]
) -> None:
    sandbox.set_skills({CHEAP: {"python": 0.0}, STRONG: {"python": 1.0}})
    store = open_store(tmp_path, sandbox)
    set_strategy(store, "smart", {"strategy": "cascade", "entries": ["cheap", "strong"]})
    model = get_routed_model(store, default_entry="smart")
    made.append(model)

    answer = model.invoke(python_quiz(7))

    assert isinstance(answer, AIMessage)
    compile(answer.text.split("```python\n")[1].split("```")[0], "<answer>", "exec")
    run = answer.response_metadata[ORCHESTRATION_KEY]
    assert run["strategy"] == "cascade"
    assert [call["entry"] for call in run["calls"]] == ["cheap", "strong"]
    assert run["calls"][0]["score"] == 0.0  # the cheap model's code does not parse
    assert run["winner"] == "strong" and run["accepted"] is True
    billed = sandbox.billing()
    assert set(billed.models) == {CHEAP, STRONG}
    assert answer.usage_metadata is not None
    total = billed.total
    assert answer.usage_metadata["output_tokens"] == total.output_tokens
    assert answer.usage_metadata["input_tokens"] == total.input_tokens  # no prompt caching
    assert answer.response_metadata[ROUTE_KEY]["entry"] == "smart"


def test_a_cascade_entry_stops_at_the_cheap_model_when_its_answer_passes(
    tmp_path: Path, sandbox: SandboxServer, made: list[Any]
) -> None:
    sandbox.set_skills({CHEAP: {"python": 1.0}})
    store = open_store(tmp_path, sandbox)
    set_strategy(store, "smart", {"strategy": "cascade", "entries": ["cheap", "strong"]})
    model = get_routed_model(store, default_entry="smart")
    made.append(model)

    answer = model.invoke(python_quiz(8))

    run = answer.response_metadata[ORCHESTRATION_KEY]
    assert [call["entry"] for call in run["calls"]] == ["cheap"]
    assert set(sandbox.billing().models) == {CHEAP}


def test_a_consensus_entry_answers_with_what_the_majority_said(
    tmp_path: Path, sandbox: SandboxServer, made: list[Any]
) -> None:
    sandbox.set_skills({CHEAP: {"*": 1.0}, STRONG: {"*": 1.0}})
    store = open_store(tmp_path, sandbox)
    set_strategy(
        store,
        "smart",
        {"strategy": "consensus", "entries": ["cheap", "strong"], "method": "majority"},
    )
    model = get_routed_model(store, default_entry="smart")
    made.append(model)

    answer = model.invoke("What is 6 * 7? [quiz arithmetic answer=42]")

    assert "42" in answer.text
    run = answer.response_metadata[ORCHESTRATION_KEY]
    assert run["strategy"] == "consensus" and run["accepted"] is True
    assert sorted(call["entry"] for call in run["calls"]) == ["cheap", "strong"]


def test_the_kill_switch_turns_orchestration_off(
    tmp_path: Path, sandbox: SandboxServer, made: list[Any]
) -> None:
    store = open_store(tmp_path, sandbox)
    set_strategy(store, "smart", {"strategy": "parallel", "entries": ["cheap", "strong"]})
    engage_kill_switch(store, actor="oncall", reason="costs spiking")
    watcher_for(store).refresh()
    model = get_routed_model(store, default_entry="smart")
    made.append(model)

    answer = model.invoke("Hello")

    assert ORCHESTRATION_KEY not in answer.response_metadata
    assert sandbox.billing().total.requests_succeeded == 1


def test_an_invalid_strategy_is_refused_and_nothing_is_written(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    store = open_store(tmp_path, sandbox)
    before = store.read_document(DocumentName.AI_CONFIG)
    assert before is not None

    with pytest.raises(ConfigError) as caught:
        update_orchestration(
            store,
            "smart",
            {"strategy": "cascade", "entries": ["cheap", "nowhere"], "method": "judge"},
            expected_revision=before.revision,
            actor="ops",
            reason="test",
        )

    fields = caught.value.by_field()
    assert "orchestration.method" in fields and "orchestration.entries" in fields
    after = store.read_document(DocumentName.AI_CONFIG)
    assert after is not None and after.revision == before.revision


def test_routed_answers_are_scored_and_recorded_per_entry_and_model(
    tmp_path: Path, sandbox: SandboxServer, made: list[Any]
) -> None:
    sandbox.set_skills({CHEAP: {"python": 0.0}})
    store = open_store(tmp_path, sandbox, quality={"enabled": True, "passThreshold": 0.7})
    model = get_routed_model(store, default_entry="cheap")
    made.append(model)

    for n in range(4):
        model.invoke(python_quiz(n))
    model.invoke("Say hello to the team, in one friendly sentence.")
    tracker = quality_tracker_for(store)
    assert tracker.drain()
    tracker.flush()

    rows = store.quality_stats(start=EPOCH, end=FAR, entry_key="cheap")
    total = sum(row.count for row in rows)
    assert total == 5
    assert {row.model for row in rows} == {CHEAP}
    assert sum(row.flags.get("invalid_code", 0) for row in rows) == 4
    assert sum(row.passed for row in rows) == 1  # only the greeting passes


def test_an_ab_test_sends_its_share_to_both_arms_and_tags_their_scores(
    tmp_path: Path, sandbox: SandboxServer, made: list[Any]
) -> None:
    store = open_store(
        tmp_path,
        sandbox,
        quality={
            "enabled": True,
            "sampleRate": 0.5,
            "abTests": [{"name": "haiku-vs-sonnet", "entries": ["cheap", "strong"], "share": 1}],
        },
    )
    model = get_routed_model(store, default_entry="smart")
    made.append(model)

    served = [
        model.invoke(f"Question {n}: name a prime above {n}.").response_metadata[ROUTE_KEY]["entry"]
        for n in range(12)
    ]
    tracker = quality_tracker_for(store)
    assert tracker.drain()
    tracker.flush()

    assert set(served) == {"cheap", "strong"}  # the whole share is the test's
    rows = store.quality_stats(start=EPOCH, end=FAR, test="haiku-vs-sonnet")
    by_entry = {
        key: sum(r.count for r in rows if r.entry_key == key) for key in ("cheap", "strong")
    }
    # Every answer of the test is scored, whatever the sample rate.
    assert by_entry == {"cheap": served.count("cheap"), "strong": served.count("strong")}


def test_a_labelled_code_block_is_checked_in_its_language() -> None:
    assert labelled_language("Here:\n```python\nprint(1)\n```") == "python"
    assert labelled_language("```json\n{}\n```") == "json"
    assert labelled_language("```\nplain\n```") is None
    assert labelled_language("no code") is None


def test_an_orchestrated_entry_answers_async_and_streamed_calls_too(
    tmp_path: Path, sandbox: SandboxServer, made: list[Any]
) -> None:
    sandbox.set_skills({CHEAP: {"python": 0.0}, STRONG: {"python": 1.0}})
    store = open_store(tmp_path, sandbox)
    set_strategy(store, "smart", {"strategy": "cascade", "entries": ["cheap", "strong"]})
    model = get_routed_model(store, default_entry="smart")
    made.append(model)

    answer = asyncio.run(model.ainvoke(python_quiz(9)))
    chunks = list(model.stream(python_quiz(10)))

    assert answer.response_metadata[ORCHESTRATION_KEY]["winner"] == "strong"
    streamed = chunks[0]
    for chunk in chunks[1:]:
        streamed = streamed + chunk
    assert "```python" in streamed.text
    assert streamed.response_metadata[ORCHESTRATION_KEY]["winner"] == "strong"


def test_closing_a_routed_model_leaves_the_shared_anthropic_client_open(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    from langchain_anthropic import ChatAnthropic

    store = open_store(tmp_path, sandbox)
    model = get_routed_model(store, default_entry="cheap")
    model.invoke("Hello")
    model.close()

    # ChatAnthropic caches one HTTP client per base URL: a later model gets the same one.
    later = ChatAnthropic(  # type: ignore[call-arg]
        model=CHEAP, base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0
    )
    assert later.invoke("Hello again").text
