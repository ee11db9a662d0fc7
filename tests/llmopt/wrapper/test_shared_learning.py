"""Planner memories shared through the store: processes learn as one, and a store that
fails or holds garbage never costs a call more than the sharing."""

from __future__ import annotations

import logging
import multiprocessing
import random
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.caching import plan_breakpoints
from llmopt.errors import StoreError
from llmopt.sandbox import SandboxServer
from llmopt.store import PlannerState, SQLiteStore
from llmopt.store._records import utcnow
from llmopt.wrapper import OptimizedLLMWrapper, SharedLearning

from . import _planning_worker
from .conftest import CACHING, MODEL, chat, words

ENTRY = "anthropic:shared"


def request(system: str, question: str) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 64,
        "system": system,
        "messages": [{"role": "user", "content": question}],
    }


def mixed_traffic(count: int = 48) -> list[dict[str, Any]]:
    """Four system prompts that recur in random order, and as many one-off ones."""
    rng = random.Random(7)
    recurring = [f"Team {n}. " + words(1_500, f"team{n}") for n in range(4)]
    payloads = []
    for n in range(count):
        one_off = f"Visitor {n}. " + words(1_500, f"visitor{n}")
        system = one_off if n % 2 else rng.choice(recurring)
        payloads.append(request(system, f"question {n}"))
    return payloads


def test_four_processes_plan_the_same_traffic_as_one(tmp_path: Path) -> None:
    payloads = mixed_traffic()
    path = str(tmp_path / "llmopt.sqlite3")
    SQLiteStore(path).close()  # the schema, before four processes race to make it
    # Spawned, as uvicorn's workers are: each hashes strings with its own random seed,
    # and fingerprints must agree all the same.
    context = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for n in range(4):
        ours, theirs = context.Pipe()
        worker = context.Process(
            target=_planning_worker.serve, args=(path, f"w{n}", ENTRY, MODEL, theirs)
        )
        worker.start()
        pipes.append(ours)
        workers.append(worker)

    def ask(n: int, command: str, argument: Any = None) -> Any:
        pipes[n].send((command, argument))
        return pipes[n].recv()

    try:
        shared = []
        for index, payload in enumerate(payloads):
            worker = index % 4
            ask(worker, "sync")  # what the others shared so far
            shared.append(ask(worker, "plan", payload))
            ask(worker, "sync")  # off the call path in production; here, before the next
    finally:
        for n in range(4):
            ask(n, "stop")
            workers[n].join(timeout=30)

    assert shared == _planning_worker.plan_here(payloads, MODEL)
    assert sum(1 for locations in shared if locations) > 10  # the recurring prompts are


def test_what_one_process_saw_another_marks_on_its_second_sighting(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    learning_a, learning_b = SharedLearning(store, process="a"), SharedLearning(store, process="b")
    first, second = learning_a.memory(ENTRY), learning_b.memory(ENTRY)
    config = _planning_worker.CONFIG
    for n in range(3):  # new prompts do not come again
        payload = request(f"One-off {n}. " + words(1_500), "q")
        plan_breakpoints(payload, model=MODEL, config=config, memory=first)
    prompt = "Shared. " + words(1_500)
    plan_breakpoints(request(prompt, "q"), model=MODEL, config=config, memory=first)

    assert learning_a.sync() == 0  # nothing of b's yet
    assert learning_b.sync() == 1
    assert second.odds() == pytest.approx(first.odds())
    again = plan_breakpoints(request(prompt, "q2"), model=MODEL, config=config, memory=second)

    assert [b.location for b in again.breakpoints] == ["system[0]"]


def test_wrappers_of_one_entry_and_store_share_one_memory(tmp_path: Path) -> None:
    from langchain_anthropic import ChatAnthropic

    store = SQLiteStore(tmp_path / "s.sqlite3")
    base = ChatAnthropic(model=MODEL, api_key="sk-test")  # type: ignore[call-arg]
    flags = {"optimizationEnabled": True, "cachingEnabled": True}
    one = OptimizedLLMWrapper(base, "anthropic", flags, store=store, entry_key=ENTRY)
    two = OptimizedLLMWrapper(base, "anthropic", flags, store=store, entry_key=ENTRY)
    other = OptimizedLLMWrapper(base, "anthropic", flags, store=store, entry_key="another")

    assert one.prefix_memory is two.prefix_memory
    assert other.prefix_memory is not one.prefix_memory


class _Unreachable(SQLiteStore):
    def put_planner_states(self, states: Any) -> None:
        raise StoreError("the database is down")


def test_an_unreachable_store_costs_only_the_sharing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    learning = SharedLearning(_Unreachable(tmp_path / "s.sqlite3"), process="a")
    memory = learning.memory(ENTRY)
    config = _planning_worker.CONFIG

    with caplog.at_level(logging.WARNING, logger="llmopt.wrapper"):
        assert learning.sync() == 0
    plan = plan_breakpoints(request(words(1_500), "q"), model=MODEL, config=config, memory=memory)

    assert "planner statistics not shared, will retry: the database is down" in caplog.text
    assert [b.location for b in plan.breakpoints] == ["system[0]"]


def test_a_corrupt_state_is_skipped_with_one_warning_and_the_others_still_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    good = SharedLearning(store, process="good")
    for n in range(5):
        good.memory(ENTRY).sighting(n, ttl=300)
    good.sync()
    garbage = {"counts": {"static": ["many", 1]}, "prefixes": "none"}
    store.put_planner_states(
        [PlannerState(entry_key=ENTRY, process="bad", updated_at=utcnow(), body=garbage)]
    )
    reader = SharedLearning(store, process="reader")
    memory = reader.memory(ENTRY)

    with caplog.at_level(logging.WARNING, logger="llmopt.wrapper"):
        assert reader.sync() == 1
        assert reader.sync() == 1

    assert caplog.text.count("ignoring the planner state of bad") == 1
    assert memory.odds() == pytest.approx(good.memory(ENTRY).odds())


class _Garbage(SQLiteStore):
    def planner_states(self, entry_keys: Any, *, since: Any) -> list[PlannerState]:
        body = {"counts": None, "prefixes": [["x"]]}
        return [PlannerState(entry_key=ENTRY, process="bad", updated_at=since, body=body)]


@pytest.mark.parametrize("broken", [_Unreachable, _Garbage])
def test_calls_go_through_while_sharing_fails_in_the_background(
    sandbox: SandboxServer, tmp_path: Path, broken: type[SQLiteStore]
) -> None:
    learning = SharedLearning(broken(tmp_path / "s.sqlite3"), interval=0.01)
    model = OptimizedLLMWrapper(
        chat(sandbox), "anthropic", CACHING, prefix_memory=learning.memory(ENTRY)
    )
    try:
        for n in range(3):
            model.invoke([SystemMessage(words(1_500)), HumanMessage(f"question {n}")])
    finally:
        learning.stop()

    billed = sandbox.billing().total
    assert billed.requests_errored == 0
    assert billed.cache_read_tokens > 0  # the planner still cached what it saw
