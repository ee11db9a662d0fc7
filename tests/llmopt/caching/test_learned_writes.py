"""auto mode learns whether new system prompts come again, and writes a new one only when
that makes the write pay (P(read) × 0.9 > 0.25); otherwise on its second sighting."""

from __future__ import annotations

from typing import Any

from llmopt.caching import PrefixMemory

from .conftest import SYSTEM, FakeClock, locations, plan, request, user, words


def persona(n: int) -> str:
    return f"Persona {n}. " + SYSTEM


def test_new_system_prompts_that_never_come_again_stop_being_written(
    memory: PrefixMemory,
) -> None:
    written = [
        bool(locations(plan(request([user("q")], system=persona(n)), memory=memory).payload))
        for n in range(20)
    ]

    # Nothing learned: one half, worth a write; after one one-off, a third (still worth
    # it at 0.30 > 0.25); after two, a quarter, which is not.
    assert written[:3] == [True, True, False]
    assert not any(written[2:])


def test_a_prompt_left_unmarked_is_marked_when_it_comes_again_and_says_why(
    memory: PrefixMemory,
) -> None:
    for n in range(3):
        plan(request([user("q")], system=persona(n)), memory=memory)
    new = plan(request([user("q")], system=persona(9)), memory=memory)
    again = plan(request([user("another question")], system=persona(9)), memory=memory)

    assert locations(new.payload) == []
    assert any("unmarked until it comes again" in d for d in new.decisions)
    assert locations(again.payload) == ["system[0]"]
    assert "came recently" in again.breakpoints[0].reason


def test_when_new_prompts_start_coming_again_they_are_written_at_once_again(
    memory: PrefixMemory,
) -> None:
    for n in range(10):
        plan(request([user("q")], system=persona(n)), memory=memory)
    first_sightings_written = []
    for n in range(100, 130):  # from now on every prompt comes a second time
        first = plan(request([user("q")], system=persona(n)), memory=memory)
        plan(request([user("q")], system=persona(n)), memory=memory)
        first_sightings_written.append(bool(locations(first.payload)))

    assert not first_sightings_written[0]
    assert all(first_sightings_written[-10:])  # within tens of requests


def test_a_shared_system_prompt_is_written_on_the_first_request_as_before(
    memory: PrefixMemory,
) -> None:
    results = [plan(request([user(f"q{n}")]), memory=memory) for n in range(5)]

    assert all(locations(r.payload) == ["system[0]"] for r in results)


def test_what_is_remembered_lives_as_long_as_the_cache_entry_would(
    memory: PrefixMemory, clock: FakeClock
) -> None:
    for n in range(3):
        plan(request([user("q")], system=persona(n)), memory=memory)
    plan(request([user("q")], system=persona(9)), memory=memory)
    clock.advance(301)  # a write then would have expired unread

    late = plan(request([user("q")], system=persona(9)), memory=memory)

    assert locations(late.payload) == []


def test_sighting_counts_each_prefix_once_and_forgets_old_ones() -> None:
    memory = PrefixMemory()

    assert memory.sighting(1, ttl=300)[:2] == (False, 0.5)
    assert memory.sighting(1, ttl=300)[:2] == (True, (0 + 1) / (1 + 2))
    assert memory.sighting(1, ttl=300)[:2] == (True, (1 + 1) / (1 + 2))  # counted once
    for fingerprint in range(2, 200):
        memory.sighting(fingerprint, ttl=300)
    seen, odds = memory.sighting(1000, ttl=300)[:2]

    assert not seen and odds < 0.1  # the one that came again is long forgotten
    memory.clear()
    assert memory.sighting(1000, ttl=300)[:2] == (False, 0.5)


def turn(document: str, question: str) -> dict[str, Any]:
    return request([user([{"type": "text", "text": document}, {"type": "text", "text": question}])])


def test_documents_before_a_question_that_never_come_again_stop_being_written(
    memory: PrefixMemory,
) -> None:
    written = [
        "messages[0].content[0]"
        in locations(plan(turn(words(2_000, f"doc {n}"), "Summarise."), memory=memory).payload)
        for n in range(10)
    ]

    assert written[:3] == [True, True, False] and not any(written[2:])


def test_documents_that_come_again_are_written_at_their_first_sighting_once_learned(
    memory: PrefixMemory,
) -> None:
    documents = [words(2_000, f"doc {n}") for n in range(8)]
    first_sightings: list[bool] = []
    for document in documents:
        first = plan(turn(document, "What is it about?"), memory=memory)
        plan(turn(document, "Who wrote it?"), memory=memory)  # each comes again
        first_sightings.append("messages[0].content[0]" in locations(first.payload))

    assert all(first_sightings)


def test_ends_that_are_never_sent_again_stop_being_written(memory: PrefixMemory) -> None:
    shared = {"type": "text", "text": words(2_000, "handbook")}
    tails = []
    for n in range(12):  # the handbook recurs; each request's own document does not
        own = {"type": "text", "text": words(2_000, f"report {n}")}
        question = {"type": "text", "text": f"question {n}"}
        result = plan(request([user([shared, own, question])]), memory=memory)
        tails.append("messages[0].content[2]" in locations(result.payload))
        if n:
            assert "messages[0].content[0]" in locations(result.payload)

    assert tails[1]  # nothing learned yet: such an end may be extended
    assert not any(tails[4:])
    assert any("too few for a write to pay" in d for d in result.decisions)
