"""PrefixMemory.export and merge: what one process's planner learned, another's takes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from llmopt.caching import PrefixMemory

from .conftest import SYSTEM, FakeClock, locations, plan, request, user


def test_a_prompt_one_process_saw_is_marked_by_another_on_its_second_sighting(
    clock: FakeClock,
) -> None:
    first, second = PrefixMemory(clock=clock, shared=True), PrefixMemory(clock=clock, shared=True)
    for n in range(3):  # both learn that new prompts do not come again
        plan(request([user("q")], system=f"Persona {n}. " + SYSTEM), memory=first)
    second.merge("worker-1", first.export())
    prompt = "Persona 9. " + SYSTEM

    new = plan(request([user("q")], system=prompt), memory=first)
    second.merge("worker-1", first.export())
    again = plan(request([user("q2")], system=prompt), memory=second)

    assert locations(new.payload) == []
    assert locations(again.payload) == ["system[0]"]
    assert "came recently" in again.breakpoints[0].reason


def test_a_write_one_process_made_is_read_by_another(clock: FakeClock) -> None:
    first, second = PrefixMemory(clock=clock, shared=True), PrefixMemory(clock=clock, shared=True)
    plan(request([user("q1")]), memory=first)
    second.merge("worker-1", first.export())

    read = plan(request([user("q2")]), memory=second)
    first.merge("worker-2", second.export())
    clock.advance(600)

    assert read.missed_read_tokens == 0
    assert first.take_unread() == (0, 0)  # the writer learns that it was read


def test_counts_of_other_processes_are_added_and_replaced_not_summed_again(
    clock: FakeClock,
) -> None:
    first, second = PrefixMemory(clock=clock, shared=True), PrefixMemory(clock=clock, shared=True)
    for n in range(6):
        first.sighting(n, ttl=300)
    exported = first.export()

    second.merge("worker-1", exported)
    once = second.odds()
    second.merge("worker-1", exported)

    assert once == pytest.approx(first.odds())
    assert second.odds() == once
    second.forget_processes(keep=["worker-2"])
    assert second.odds() == 0.5


def test_an_export_of_another_fingerprint_scheme_is_refused_whole() -> None:
    first, second = PrefixMemory(shared=True), PrefixMemory(shared=True)
    first.sighting(42, ttl=300)
    exported = {**first.export(), "scheme": first.export()["scheme"] + 1}

    with pytest.raises(ValueError, match="of this llmopt's shared fingerprints"):
        second.merge("elsewhere", exported)

    assert not second.recall(42)
    assert second.odds() == 0.5


@pytest.mark.parametrize(
    "corrupt",
    [
        {},
        {"counts": [], "prefixes": []},
        {"counts": {"static": [1.0, 0.0]}, "prefixes": []},
        {"counts": {"static": [-1.0, 0.0, 1, 1]}, "prefixes": []},
        {"counts": {"static": [float("nan"), 0.0, 1, 1]}, "prefixes": []},
        {"counts": {}, "prefixes": [["x", 1, 2, 3, 4, 5, 6]]},
        {"counts": {}, "prefixes": [[1, 2]]},
    ],
)
def test_a_corrupt_export_is_refused_and_changes_nothing(corrupt: dict[str, Any]) -> None:
    memory = PrefixMemory(shared=True)
    memory.sighting(7, ttl=300)
    before = copy.deepcopy(memory.export())

    with pytest.raises(ValueError, match="not a PrefixMemory export"):
        memory.merge("bad", {"scheme": before["scheme"], **corrupt})

    assert memory.export() == before


def test_an_unshared_memory_neither_takes_nor_gives() -> None:
    unshared, shared = PrefixMemory(), PrefixMemory(shared=True)
    unshared.sighting(1, ttl=300)

    with pytest.raises(ValueError, match="not shared"):
        unshared.merge("other", shared.export())
    with pytest.raises(ValueError, match="shared fingerprints"):
        shared.merge("other", unshared.export())  # its fingerprints are Python's own

    assert not shared.recall(1)
