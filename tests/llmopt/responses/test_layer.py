"""LLMCacheLayer on the SQLite backend: exact and semantic hits, TTL, eviction, invalidation."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from llmopt.errors import ConfigError
from llmopt.responses import (
    METADATA_KEY,
    LLMCacheLayer,
    ResponseCacheSettings,
    SQLiteResponses,
    canonical_request,
)
from llmopt.store import SQLiteStore

ON = ResponseCacheSettings.from_dict({"enabled": True})
SEMANTIC = ResponseCacheSettings.from_dict(
    {"enabled": True, "semantic": True, "similarityThreshold": 0.8}
)


class WordsEmbedding(Embeddings):
    """A bag of lower-cased words hashed into 64 dimensions: alike wording, alike vector."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        vector = [0.0] * 64
        for word in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        return vector


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def layer(tmp_path: Path, clock: Clock) -> Any:
    made = LLMCacheLayer(
        SQLiteResponses(tmp_path / "answers.sqlite3"), embeddings=WordsEmbedding(), clock=clock
    )
    yield made
    made.close()
    made.backend.close()


def ask(question: str, *, system: str = "You answer briefly.", **params: Any) -> Any:
    return canonical_request(
        [SystemMessage(system), HumanMessage(question)],
        provider="anthropic",
        model="claude-sonnet-4-6",
        params=params,
    )


def answer(text: str) -> AIMessage:
    return AIMessage(
        text, usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    )


def remember(layer: Any, request: Any, text: str, settings: Any = ON, cost: float = 0.002) -> None:
    found = layer.lookup(request, entry_key="claude", settings=settings)
    assert found.hit is None
    assert layer.save(found, answer(text), model="claude-sonnet-4-6", cost_usd=cost)


def test_the_same_request_is_answered_from_the_store_and_says_so(layer: Any) -> None:
    remember(layer, ask("What is the capital of France?"), "Paris.")

    found = layer.lookup(ask("What is the capital of France?"), entry_key="claude", settings=ON)

    assert found.hit is not None and found.hit.kind == "exact"
    assert found.hit.message.content == "Paris."
    assert found.hit.message.response_metadata[METADATA_KEY]["saved_usd"] == 0.002


def test_what_does_not_change_an_answer_does_not_change_the_key() -> None:
    plain = ask("Hello")
    marked = canonical_request(
        [
            SystemMessage(
                [
                    {
                        "type": "text",
                        "text": "You answer briefly.",
                        "cache_control": {"type": "ephemeral"},
                    }
                ]
            ),
            HumanMessage("Hello"),
        ],
        provider="anthropic",
        model="claude-sonnet-4-6",
        params={"stream": True, "timeout": 30},
    )

    assert marked.key != plain.key  # a list of blocks is not the same content as a string
    assert (
        marked.key
        == canonical_request(
            [
                SystemMessage([{"text": "You answer briefly.", "type": "text"}]),
                HumanMessage("Hello"),
            ],
            provider="anthropic",
            model="claude-sonnet-4-6",
        ).key
    )
    assert ask("Hello", temperature=0.0).key != plain.key
    assert ask("Hello").context_key == ask("Goodbye").context_key
    assert ask("Hello", system="Be verbose.").context_key != plain.context_key


def test_an_answer_is_not_served_after_its_ttl(layer: Any, clock: Clock) -> None:
    short = ResponseCacheSettings.from_dict({"enabled": True, "ttlSeconds": 60})
    remember(layer, ask("Ping?"), "Pong.", short)
    clock.now += 61

    assert layer.lookup(ask("Ping?"), entry_key="claude", settings=short).hit is None


def test_a_request_with_a_temperature_is_left_alone_unless_the_entry_allows_it(
    layer: Any,
) -> None:
    hot = ask("Write a poem", temperature=0.9)
    found = layer.lookup(hot, entry_key="claude", settings=ON)
    assert not found.used
    assert not layer.save(found, answer("Roses..."), model="m", cost_usd=0.001)

    allowed = ResponseCacheSettings.from_dict({"enabled": True, "allowTemperature": True})
    remember(layer, hot, "Roses...", allowed)
    assert layer.lookup(hot, entry_key="claude", settings=allowed).hit is not None


def test_a_rewording_is_served_but_a_different_number_is_not(layer: Any) -> None:
    remember(layer, ask("How do I sort a list of 10 numbers in Python?"), "Use sorted().", SEMANTIC)

    reworded = layer.lookup(
        ask("In Python, how do I sort a list of 10 numbers?"), entry_key="claude", settings=SEMANTIC
    )
    other_number = layer.lookup(
        ask("How do I sort a list of 20 numbers in Python?"), entry_key="claude", settings=SEMANTIC
    )
    other_context = layer.lookup(
        ask("In Python, how do I sort a list of 10 numbers?", system="Answer in French."),
        entry_key="claude",
        settings=SEMANTIC,
    )

    assert reworded.hit is not None and reworded.hit.kind == "semantic"
    assert reworded.hit.similarity >= 0.8
    assert other_number.hit is None
    assert other_context.hit is None


def test_counters_say_exact_hits_semantic_hits_misses_and_money_saved(layer: Any) -> None:
    remember(layer, ask("How do I sort a list in Python?"), "Use sorted().", SEMANTIC, cost=0.01)
    layer.lookup(ask("How do I sort a list in Python?"), entry_key="claude", settings=SEMANTIC)
    layer.lookup(ask("In Python how do I sort a list?"), entry_key="claude", settings=SEMANTIC)
    layer.lookup(ask("What is a monad?"), entry_key="claude", settings=SEMANTIC)

    stats = layer.get_cache_stats()["claude"]

    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (1, 1, 2)
    assert stats.saved_usd == pytest.approx(0.02)
    assert stats.stored == 1 and stats.answers == 1


def test_beyond_max_entries_the_least_recently_used_go_first(layer: Any, clock: Clock) -> None:
    small = ResponseCacheSettings.from_dict({"enabled": True, "maxEntries": 2})
    for question in ("one?", "two?", "three?"):
        clock.now += 1
        remember(layer, ask(question), question.upper(), small)
        if question == "two?":
            clock.now += 1
            assert layer.lookup(ask("one?"), entry_key="claude", settings=small).hit is not None
    layer.flush()

    kept = [q for q in ("one?", "two?", "three?") if layer.get_cached_response(ask(q).key)]
    assert kept == ["one?", "three?"]


def test_invalidation_by_entry_model_or_pattern_is_audited(tmp_path: Path, clock: Clock) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    layer = LLMCacheLayer(SQLiteResponses(":memory:"), clock=clock, store=store)
    remember(layer, ask("What is the capital of France?"), "Paris.")
    remember(layer, ask("What is the capital of Spain?"), "Madrid.")
    remember(layer, ask("Who wrote Hamlet?"), "Shakespeare.")

    removed = layer.invalidate_cache(
        "*capital*", entry_key="claude", actor="oncall", reason="stale"
    )

    assert removed == 2
    assert layer.get_cached_response(ask("Who wrote Hamlet?").key) is not None
    [event] = store.list_audit(action="responses.invalidate")
    assert (event.actor, event.target, event.reason) == ("oncall", "responses:claude", "stale")
    assert event.after == {"entry": "claude", "model": None, "pattern": "*capital*", "removed": 2}
    layer.close()
    store.close()


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ConfigError) as raised:
        ResponseCacheSettings.from_dict(
            {"enabled": "yes", "similarityThreshold": 1.5, "colour": "red"}, key="claude"
        )
    fields = {p.field for p in raised.value.problems}
    assert fields == {
        "claude.responseCache.enabled",
        "claude.responseCache.similarityThreshold",
        "claude.responseCache.colour",
    }


def test_another_process_finds_what_one_stored(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "shared.sqlite3"
    first = LLMCacheLayer(SQLiteResponses(path), embeddings=WordsEmbedding(), clock=clock)
    second = LLMCacheLayer(SQLiteResponses(path), embeddings=WordsEmbedding(), clock=clock)
    remember(first, ask("How do I reverse a string in Python?"), "s[::-1]", SEMANTIC)

    exact = second.lookup(
        ask("How do I reverse a string in Python?"), entry_key="claude", settings=SEMANTIC
    )
    reworded = second.lookup(
        ask("In Python, how do I reverse a string?"), entry_key="claude", settings=SEMANTIC
    )

    assert exact.hit is not None and reworded.hit is not None
    for layer in (first, second):
        layer.close()
        layer.backend.close()


def test_another_embedding_model_never_compares_the_old_models_vectors(layer: Any) -> None:
    class SameSizeOtherModel(WordsEmbedding):
        """64 dimensions too, but not the same space."""

    remember(layer, ask("How do I sort a list in Python?"), "Use sorted().", SEMANTIC)
    layer.use_embeddings(SameSizeOtherModel())

    found = layer.lookup(
        ask("In Python how do I sort a list?"), entry_key="claude", settings=SEMANTIC
    )
    exact = layer.lookup(
        ask("How do I sort a list in Python?"), entry_key="claude", settings=SEMANTIC
    )

    assert found.hit is None  # the old vector was made by another model
    assert exact.hit is not None


def test_an_empty_answer_or_a_refusal_is_not_kept(layer: Any) -> None:
    empty = layer.lookup(ask("Say nothing"), entry_key="claude", settings=ON)
    refused = layer.lookup(ask("Something unsafe"), entry_key="claude", settings=ON)

    assert not layer.save(empty, AIMessage(""), model="m", cost_usd=0.001)
    refusal = AIMessage("I can't help with that.", response_metadata={"stop_reason": "refusal"})
    assert not layer.save(refused, refusal, model="m", cost_usd=0.001)
    assert layer.get_cached_response(ask("Something unsafe").key) is None
