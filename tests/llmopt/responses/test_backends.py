"""The same contract for every response backend: SQLite (one machine) and Redis (shared)."""

from __future__ import annotations

import time
from typing import Any

from llmopt.responses import StoredAnswer
from llmopt.responses._backend import EntryStats

NOW = time.time()


def stored(key: str, *, entry: str = "claude", question: str = "q", **fields: Any) -> StoredAnswer:
    values: dict[str, Any] = {
        "key": key,
        "entry_key": entry,
        "model": "claude-sonnet-4-6",
        "context_key": "ctx",
        "question": question,
        "answer": '{"type": "ai", "data": {"content": "a"}}',
        "created_at": NOW,
        "expires_at": NOW + 3600,
        "last_used": NOW,
        "cost_usd": 0.001,
        "vector": b"\x00\x00\x80?" * 4,
        **fields,
    }
    return StoredAnswer(**values)


def test_an_answer_comes_back_as_it_was_put_until_it_expires(backend: Any) -> None:
    backend.put(stored("k1", question="What is 2+2?"))

    found = backend.get("k1", now=NOW)

    assert found is not None
    assert (found.question, found.cost_usd, found.vector) == (
        "What is 2+2?",
        0.001,
        b"\x00\x00\x80?" * 4,
    )
    assert backend.get("k1", now=NOW + 3601) is None
    assert backend.get("missing", now=NOW) is None


def test_since_gives_what_was_written_after_a_sequence_number(backend: Any) -> None:
    first = backend.put(stored("k1"))
    backend.put(stored("k2"))
    backend.put(stored("k3", vector=None))

    assert [a.key for a in backend.since(0)] == ["k1", "k2"]
    assert [a.key for a in backend.since(first)] == ["k2"]


def test_eviction_keeps_the_most_recently_used(backend: Any) -> None:
    for number, key in enumerate(("k1", "k2", "k3")):
        backend.put(stored(key, last_used=NOW + number))
    backend.touch(["k1"], now=NOW + 10)

    assert backend.evict("claude", keep=2, now=NOW + 11) == 1

    assert [k for k in ("k1", "k2", "k3") if backend.get(k, now=NOW + 11)] == ["k1", "k3"]


def test_invalidation_by_entry_model_and_pattern(backend: Any) -> None:
    backend.put(stored("k1", question="capital of France?"))
    backend.put(stored("k2", question="capital of Spain?", entry="gpt"))
    backend.put(stored("k3", question="author of Hamlet?"))

    assert backend.invalidate(entry_key="claude", pattern="capital*") == 1
    assert [k for k in ("k1", "k2", "k3") if backend.get(k, now=NOW)] == ["k2", "k3"]
    assert backend.invalidate(model="claude-sonnet-4-6") == 2
    assert backend.count(now=NOW) == 0


def test_counters_add_up_per_entry_and_hour(backend: Any) -> None:
    hour = (NOW // 3600) * 3600
    backend.add_stats("claude", hour, EntryStats(exact_hits=2, misses=1, saved_usd=0.5))
    backend.add_stats("claude", hour, EntryStats(semantic_hits=1, saved_usd=0.25, stored=1))
    backend.add_stats("claude", hour - 7200, EntryStats(misses=5))
    backend.put(stored("k1"))

    stats = backend.stats(start=hour, end=hour + 3600)["claude"]

    assert (stats.exact_hits, stats.semantic_hits, stats.misses, stats.stored) == (2, 1, 1, 1)
    assert stats.saved_usd == 0.75 and stats.answers == 1


def test_the_bound_over_all_entries_drops_low_priority_before_recently_unused(
    backend: Any,
) -> None:
    backend.put(stored("low-new", entry="batch", priority=-5, last_used=NOW + 9))
    backend.put(stored("mid-old", entry="claude", last_used=NOW + 1))
    backend.put(stored("mid-new", entry="gpt", last_used=NOW + 8))
    backend.put(stored("high-old", entry="vip", priority=5, last_used=NOW))

    assert backend.evict_all(keep=2, now=NOW + 10) == 2

    kept = [k for k in ("low-new", "mid-old", "mid-new", "high-old") if backend.get(k, now=NOW)]
    assert kept == ["mid-new", "high-old"]
