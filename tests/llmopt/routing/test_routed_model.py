"""get_routed_model against the sandbox's three providers, through their real clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from llmopt.errors import BudgetExceeded, NoEligibleEntry, NoHealthyEntry
from llmopt.failover import circuit_board_for
from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.routing import ROUTE_KEY, get_routed_model
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore
from llmopt.tokens import BudgetGuard, BudgetSettings
from llmopt.tokens._budget_guard import period_bounds
from llmopt.wrapper._watcher import watcher_for


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def entries(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [
        {
            "provider": "anthropic",
            "modelKey": "claude",
            "isDefault": True,
            "configuration": {
                "model": "claude-sonnet-4-6",
                "apiKey": sandbox.api_key,
                "baseUrl": sandbox.base_url,
                "maxTokens": 64,
                "maxRetries": 0,
                "routing": {"tasks": ["code", "reasoning"], "quality": 0.95},
            },
        },
        {
            "provider": "openAI",
            "modelKey": "mini",
            "configuration": {
                "model": "gpt-5.4-mini",
                "apiKey": "sk-sandbox",
                "baseUrl": f"{sandbox.base_url}/v1",
                "maxTokens": 64,
                "maxRetries": 0,
                "routing": {"quality": 0.8},
            },
        },
        {
            "provider": "ollama",
            "modelKey": "local",
            "configuration": {
                "model": "llama3.1:8b",
                "baseUrl": sandbox.base_url,
                "routing": {"quality": 0.5},
            },
        },
    ]


def open_store(
    tmp_path: Path,
    sandbox: SandboxServer,
    routing: dict[str, Any],
    llm: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "store.db")
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": entries(sandbox) if llm is None else llm, "routing": routing, **extra},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="t")
    watcher_for(store).refresh()
    return store


@pytest.fixture(autouse=True)
def closed_after_each_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every routed model a test makes is closed at its end (ChatOllama never closes its
    own client, and warnings are errors here)."""
    import llmopt.routing._routed_model as module

    made: list[Any] = []
    original = module.get_routed_model

    def tracked(*args: Any, **kwargs: Any) -> Any:
        model = original(*args, **kwargs)
        made.append(model)
        return model

    monkeypatch.setattr(f"{__name__}.get_routed_model", tracked)
    yield
    for model in made:
        model.close()


def route_of(answer: Any) -> dict[str, Any]:
    route = answer.response_metadata[ROUTE_KEY]
    assert isinstance(route, dict)
    return route


def test_a_code_question_is_answered_by_the_entry_good_at_code(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    model = get_routed_model(open_store(tmp_path, sandbox, {"enabled": True}))
    answer = model.invoke("Write a Python function that adds two numbers")
    route = route_of(answer)
    assert route["entry"] == "claude" and route["task"] == "code"
    assert "code task (inferred)" in route["reason"]
    assert sandbox.billing().models["claude-sonnet-4-6"].requests_succeeded == 1


def test_a_private_request_stays_on_the_local_model(tmp_path: Path, sandbox: SandboxServer) -> None:
    model = get_routed_model(open_store(tmp_path, sandbox, {"enabled": True}), privacy="local")
    answer = model.invoke("Summarise my patient notes")
    assert route_of(answer)["entry"] == "local"
    assert route_of(answer)["chain"] == ["local"]


def test_an_outage_fails_over_to_the_next_entry_and_opens_the_circuit(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    store = open_store(
        tmp_path,
        sandbox,
        {"enabled": True, "circuitBreaker": {"failureThreshold": 2, "coolDownSeconds": 60}},
    )
    sandbox.set_model_behaviour({"claude-sonnet-4-6": {"error": "overloaded"}})
    model = get_routed_model(store)
    served = [route_of(model.invoke("Write a function to sort a list"))["entry"] for _ in range(3)]
    assert "claude" not in served
    failover = model.invoke("Write a function to sort a list").response_metadata["llmopt_failover"]
    assert all(a["entry"] != "claude" or a["outcome"] == "skipped" for a in failover["attempts"])
    assert circuit_board_for(store).status("claude").state == "open"


def test_an_invalid_request_is_not_failed_over(tmp_path: Path, sandbox: SandboxServer) -> None:
    import anthropic

    model = get_routed_model(open_store(tmp_path, sandbox, {"enabled": True}))
    with pytest.raises(anthropic.BadRequestError):
        model.invoke("Write a function", max_tokens=0)
    assert "gpt-5.4-mini" not in sandbox.billing().models


def test_tools_are_formatted_for_whichever_entry_serves(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    store = open_store(tmp_path, sandbox, {"enabled": True, "fallbackChain": ["mini", "local"]})
    model = get_routed_model(store).bind_tools([get_weather])
    answer = model.invoke("Please call get_weather for Paris")
    assert isinstance(answer, AIMessage)
    assert route_of(answer)["entry"] == "mini"
    assert answer.tool_calls and answer.tool_calls[0]["name"] == "get_weather"


def test_structured_output_works_through_the_router(tmp_path: Path, sandbox: SandboxServer) -> None:
    class City(BaseModel):
        name: str
        population: int

    store = open_store(tmp_path, sandbox, {"enabled": True, "fallbackChain": ["mini"]})
    result = get_routed_model(store).with_structured_output(City).invoke("Name a big city")
    assert isinstance(result, City)


def test_streaming_carries_the_route_on_its_chunks(tmp_path: Path, sandbox: SandboxServer) -> None:
    store = open_store(tmp_path, sandbox, {"enabled": True, "fallbackChain": ["mini"]})
    chunks = list(get_routed_model(store).stream("Tell me a story"))
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert route_of(total)["entry"] == "mini"
    assert total.content


def test_the_kill_switch_calls_the_callers_own_model_bare(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    store = open_store(tmp_path, sandbox, {"enabled": True})
    engage_kill_switch(store, actor="oncall", reason="costs spiking")
    watcher_for(store).refresh()
    answer = get_routed_model(store).invoke("Hello there", privacy="local")
    assert route_of(answer) == {"entry": "claude", "routed": False, "reason": "routing is off"}


def test_with_routing_off_the_default_entry_answers(tmp_path: Path, sandbox: SandboxServer) -> None:
    answer = get_routed_model(open_store(tmp_path, sandbox, {"enabled": False})).invoke("Hi")
    assert route_of(answer)["entry"] == "claude" and route_of(answer)["routed"] is False


def test_a_request_no_entry_can_serve_is_a_clear_error(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    store = open_store(tmp_path, sandbox, {"enabled": True, "fallbackChain": ["local"]})
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(NoEligibleEntry, match="this model takes none"):
        get_routed_model(store).invoke([("human", [{"type": "text", "text": "what?"}, image])])


def test_every_circuit_open_fails_fast_without_a_call(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    store = open_store(tmp_path, sandbox, {"enabled": True, "fallbackChain": ["mini"]})
    circuit_board_for(store).force("mini", "open", actor="oncall", reason="provider down")
    with pytest.raises(NoHealthyEntry, match="forced open"):
        get_routed_model(store).invoke("Hi")
    assert "gpt-5.4-mini" not in sandbox.billing().models


def test_a_refusing_budget_at_its_limit_refuses_new_requests(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    budgets = [{"name": "tiny", "period": "day", "limitTokens": 50, "atLimit": "refuse"}]
    store = open_store(
        tmp_path, sandbox, {"enabled": True, "fallbackChain": ["mini"]}, budgets=budgets
    )
    model = get_routed_model(store)
    model.invoke("Hello " * 40)
    with pytest.raises(BudgetExceeded, match="tiny"):
        model.invoke("Hello again")


def test_an_entry_with_a_ready_backup_is_called_once_despite_its_sdk_retries(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    llm = entries(sandbox)
    llm[0]["configuration"]["maxRetries"] = 2  # the SDK alone would back off ~2 s
    store = open_store(
        tmp_path, sandbox, {"enabled": True, "fallbackChain": ["claude", "mini"]}, llm
    )
    sandbox.set_model_behaviour({"claude-sonnet-4-6": {"error": "overloaded"}})

    answer = get_routed_model(store).invoke("Write a function to sort a list")

    assert route_of(answer)["entry"] == "mini"
    assert sandbox.billing().models["claude-sonnet-4-6"].requests_errored == 1


def budget_spend(store: SQLiteStore, budgets: list[dict[str, Any]]) -> dict[str, tuple[float, int]]:
    guard = BudgetGuard(store, BudgetSettings.load_list(budgets))
    try:
        return {status.name: (status.usd, status.tokens) for status in guard.spend()}
    finally:
        guard.close()


def test_a_failed_over_call_is_charged_to_the_entry_that_answered(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    budgets = [
        {"name": "claude-day", "entry": "claude", "period": "day", "limitUsd": 100},
        {"name": "mini-day", "entry": "mini", "period": "day", "limitUsd": 100},
        {"name": "all-day", "period": "day", "limitUsd": 100},
    ]
    store = open_store(
        tmp_path, sandbox, {"enabled": True, "fallbackChain": ["claude", "mini"]}, budgets=budgets
    )
    sandbox.set_model_behaviour({"claude-sonnet-4-6": {"error": "overloaded"}})

    answer = get_routed_model(store).invoke("Write a function to sort a list")

    assert route_of(answer)["entry"] == "mini"
    spend = budget_spend(store, budgets)
    assert spend["claude-day"] == (0.0, 0)
    assert spend["mini-day"][1] == answer.usage_metadata["total_tokens"]
    assert spend["mini-day"] == spend["all-day"]
    billed = sandbox.billing().models["gpt-5.4-mini"].cost_usd
    assert billed is not None and spend["mini-day"][0] == pytest.approx(float(billed))


def test_a_failover_target_whose_refusing_budget_is_spent_is_skipped(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    budgets = [
        {
            "name": "mini-day",
            "entry": "mini",
            "period": "day",
            "limitTokens": 10,
            "atLimit": "refuse",
        }
    ]
    store = open_store(
        tmp_path,
        sandbox,
        {"enabled": True, "fallbackChain": ["claude", "mini", "local"]},
        budgets=budgets,
    )
    start, _ = period_bounds("day", datetime.now(UTC))
    store.charge_budget("mini-day", start, usd=0.0, tokens=10)
    sandbox.set_model_behaviour({"claude-sonnet-4-6": {"error": "overloaded"}})

    answer = get_routed_model(store).invoke("Write a function to sort a list")

    assert route_of(answer)["entry"] == "local"
    attempts = answer.response_metadata["llmopt_failover"]["attempts"]
    assert [(a["entry"], a["outcome"]) for a in attempts] == [
        ("claude", "failed"),
        ("mini", "skipped"),
    ]
    assert "mini-day" in attempts[1]["detail"]
    assert "gpt-5.4-mini" not in sandbox.billing().models
    assert budget_spend(store, budgets)["mini-day"] == (0.0, 10)


def test_after_an_outage_the_router_probes_the_entry_again_and_its_circuit_closes(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    routing = {
        "enabled": True,
        "fallbackChain": ["claude", "mini"],
        "circuitBreaker": {"failureThreshold": 2, "coolDownSeconds": 1},
    }
    store = open_store(tmp_path, sandbox, routing)
    board = circuit_board_for(store)
    sandbox.set_model_behaviour({"claude-sonnet-4-6": {"error": "overloaded"}})
    model = get_routed_model(store)
    for _ in range(2):
        model.invoke("Write a function to sort a list")
    assert board.status("claude").state == "open"
    sandbox.clear_faults()

    deadline = time.monotonic() + 10
    served = None
    while served != "claude" and time.monotonic() < deadline:
        served = route_of(model.invoke("Write a function to sort a list"))["entry"]
        time.sleep(0.1)

    assert served == "claude"
    assert board.status("claude").state == "closed"


def test_the_first_call_of_a_new_process_waits_for_the_first_read_instead_of_failing(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    store = SQLiteStore(tmp_path / "fresh.db")
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": entries(sandbox), "routing": {"enabled": True, "fallbackChain": ["mini"]}},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="t")

    answer = get_routed_model(store).invoke("Hi")  # no refresh: the watcher starts now

    assert route_of(answer)["entry"] == "mini"
