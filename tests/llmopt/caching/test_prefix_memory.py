from __future__ import annotations

import os
import threading

import pytest

from llmopt.caching import PrefixMemory

from .conftest import FakeClock


def test_a_recorded_prefix_is_recalled_until_its_lifetime_ends(clock: FakeClock) -> None:
    memory = PrefixMemory(clock=clock)
    memory.record(seen=[1], seen_ttl=300)

    clock.advance(299)
    assert memory.recall(1)
    clock.advance(1)
    assert not memory.recall(1)
    assert len(memory) == 0


def test_a_cached_prefix_is_told_apart_from_one_only_seen(clock: FakeClock) -> None:
    memory = PrefixMemory(clock=clock)
    memory.record(cached=[(1, 3600, 100)], seen=[2], seen_ttl=300)

    assert memory.is_cached(1) and memory.recall(1)
    assert memory.recall(2) and not memory.is_cached(2)
    clock.advance(600)
    assert memory.is_cached(1)
    assert not memory.recall(2)


def test_latest_finds_the_last_cached_and_the_last_known_position(clock: FakeClock) -> None:
    memory = PrefixMemory(clock=clock)
    memory.record(cached=[(20, 300, 100)], seen=[40], seen_ttl=300)
    fingerprints = [10, 20, 30, 40, 50]

    assert memory.latest(fingerprints, 0, 5) == (1, 3)
    assert memory.latest(fingerprints, 2, 5) == (None, 3)
    assert memory.latest(fingerprints, 4, 5) == (None, None)


def test_reading_a_cached_entry_refreshes_its_lifetime(clock: FakeClock) -> None:
    memory = PrefixMemory(clock=clock)
    memory.record(cached=[(7, 300, 100)])

    clock.advance(250)
    assert memory.latest([7], 0, 1) == (0, 0)
    clock.advance(250)

    assert memory.is_cached(7)


def test_the_least_recently_used_fingerprints_go_first_beyond_the_capacity() -> None:
    memory = PrefixMemory(capacity=3)
    memory.record(seen=[1, 2, 3])
    memory.recall(1)

    memory.record(seen=[4])

    assert len(memory) == 3
    assert not memory.recall(2)
    assert all(memory.recall(fingerprint) for fingerprint in (1, 3, 4))


@pytest.mark.parametrize("capacity", [0, -1])
def test_a_capacity_below_one_is_refused(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        PrefixMemory(capacity=capacity)


def test_many_threads_can_record_and_recall_at_once() -> None:
    memory = PrefixMemory(capacity=500)
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            start.wait(timeout=10)
            for n in range(2_000):
                memory.record(cached=[(offset * 10_000 + n, 300, 100)], seen=[n])
                memory.recall(n)
                memory.latest([n, offset * 10_000 + n], 0, 2)
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert len(memory) == 500


def test_clear_forgets_everything() -> None:
    memory = PrefixMemory()
    memory.record(seen=[1, 2])

    memory.clear()

    assert len(memory) == 0
    assert memory.capacity == 4096


def test_fingerprints_are_the_same_in_processes_that_hash_strings_differently() -> None:
    import json
    import subprocess
    import sys

    script = (
        "import json; from llmopt.caching._blocks import walk; "
        "payload = {'model': 'm', 'system': 'You help. ' * 300, 'tools': [{'name': 't', "
        "'input_schema': {'type': 'object'}}], 'tool_choice': {'type': 'auto'}, "
        "'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': 'q'}, "
        "{'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', "
        "'data': 'iVBO'}}]}, {'role': 'assistant', 'content': [{'type': 'thinking', "
        "'thinking': 't', 'signature': None}, {'type': 'tool_use', 'id': 'x', "
        "'name': 't', 'input': {}}]}, {'role': 'user', 'content': [{'type': "
        "'tool_result', 'tool_use_id': 'x', 'content': 'r', 'is_error': None}]}]}; "
        "print(json.dumps(walk(payload, 'claude-sonnet-4-5').fingerprints))"
    )
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script],
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for seed in ("1", "2")
    ]

    assert runs[0] == runs[1] and len(runs[0]) == 7  # one per block
