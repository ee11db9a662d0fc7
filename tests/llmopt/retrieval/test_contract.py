"""The VectorIndex contract, run against every backend (ArangoDB when ARANGO_URL is set)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from llmopt.retrieval import IndexedChunk, VectorIndex

from .conftest import Clock


def _chunk(document_id: str, n: int, text: str, **metadata: object) -> IndexedChunk:
    return IndexedChunk(
        chunk_id=f"{document_id}#{n}",
        document_id=document_id,
        text=text,
        content_hash=f"h-{text}",
        metadata={"source": document_id, "start_index": n * 100, **metadata},
    )


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _fill(index: VectorIndex) -> None:
    index.replace_document(
        "a.md",
        [
            _chunk("a.md", 0, "the walrus operator assigns inside expressions", lang="py"),
            _chunk("a.md", 1, "list comprehensions build lists", lang="py"),
        ],
        np.stack([_unit(1, 0, 0), _unit(0, 1, 0)]),
    )
    index.replace_document(
        "b.md",
        [_chunk("b.md", 0, "a walrus is a large marine mammal", lang="en")],
        np.stack([_unit(0.9, 0.1, 0)]),
    )


def test_it_finds_the_nearest_vectors_best_first(index: VectorIndex) -> None:
    _fill(index)
    found = index.vector_search(_unit(1, 0, 0), 2)
    assert [chunk_id for chunk_id, _ in found] == ["a.md#0", "b.md#0"]
    assert found[0][1] == pytest.approx(1.0, abs=1e-5)


def test_it_ranks_by_bm25_for_words_of_the_query(index: VectorIndex) -> None:
    _fill(index)
    found = index.lexical_search("walrus expressions", 5)
    assert [chunk_id for chunk_id, _ in found][0] == "a.md#0"
    assert {chunk_id for chunk_id, _ in found} == {"a.md#0", "b.md#0"}
    assert found[0][1] > found[1][1] > 0


def test_a_query_with_no_known_word_finds_nothing(index: VectorIndex) -> None:
    _fill(index)
    assert index.lexical_search("zebra", 5) == []
    assert index.lexical_search("  ?! ", 5) == []


def test_filters_keep_only_chunks_whose_metadata_equals_every_value(index: VectorIndex) -> None:
    _fill(index)
    by_vector = index.vector_search(_unit(1, 0, 0), 5, {"source": "b.md"})
    by_words = index.lexical_search("walrus", 5, {"lang": "py", "source": "a.md"})
    assert [i for i, _ in by_vector] == ["b.md#0"]
    assert [i for i, _ in by_words] == ["a.md#0"]
    assert index.vector_search(_unit(1, 0, 0), 5, {"source": "nowhere"}) == []


def test_replacing_a_document_swaps_its_chunks_and_leaves_others(index: VectorIndex) -> None:
    _fill(index)
    index.replace_document("a.md", [_chunk("a.md", 0, "generators yield")], _unit(0, 0, 1)[None])
    assert [c.text for c in index.chunks_of("a.md")] == ["generators yield"]
    assert index.count() == 2
    assert index.lexical_search("comprehensions", 5) == []
    assert [i for i, _ in index.vector_search(_unit(0, 0, 1), 1)] == ["a.md#0"]
    assert index.document_ids() == ["a.md", "b.md"]


def test_deleting_a_document_removes_it_from_both_searches(index: VectorIndex) -> None:
    _fill(index)
    assert index.delete_document("a.md") == 2
    assert index.delete_document("a.md") == 0
    assert index.count() == 1
    assert [i for i, _ in index.vector_search(_unit(1, 0, 0), 5)] == ["b.md#0"]
    assert [i for i, _ in index.lexical_search("walrus", 5)] == ["b.md#0"]


def test_stored_vectors_are_found_by_content_hash(index: VectorIndex) -> None:
    _fill(index)
    found = index.vectors_by_hash(["h-list comprehensions build lists", "h-missing"])
    assert list(found) == ["h-list comprehensions build lists"]
    np.testing.assert_allclose(found["h-list comprehensions build lists"], _unit(0, 1, 0))


def test_get_returns_chunks_in_the_order_asked_with_their_metadata(index: VectorIndex) -> None:
    _fill(index)
    chunks = index.get(["b.md#0", "nope", "a.md#1"])
    assert [c.chunk_id for c in chunks] == ["b.md#0", "a.md#1"]
    assert chunks[1].metadata["lang"] == "py"
    assert chunks[1].start_index == 100


def test_it_refuses_vectors_of_another_length(index: VectorIndex) -> None:
    _fill(index)
    with pytest.raises(ValueError, match="3-dimension"):
        index.replace_document("c.md", [_chunk("c.md", 0, "x")], np.ones((1, 4), np.float32))
    assert index.dimensions == 3


def test_an_empty_index_finds_nothing(index: VectorIndex) -> None:
    assert index.count() == 0
    assert index.vector_search(_unit(1, 0, 0), 5) == []
    assert index.lexical_search("walrus", 5) == []


def test_it_describes_its_documents_chunks_dimensions_and_last_write(
    index: VectorIndex, clock: Clock
) -> None:
    _fill(index)
    info = index.info()
    assert (info.documents, info.chunks, info.dimensions) == (2, 3, 3)
    assert info.embedder is None
    assert info.last_indexed == datetime.fromtimestamp(clock.now, UTC)
    assert info.name == index.name


def test_each_document_carries_its_own_last_write_time(index: VectorIndex, clock: Clock) -> None:
    _fill(index)
    first = clock.now
    clock.now += 3600
    index.replace_document("b.md", [_chunk("b.md", 0, "walrus again")], _unit(0, 1, 0)[None])
    documents = {d.document_id: d for d in index.documents()}
    assert documents["a.md"].chunks == 2
    assert documents["a.md"].indexed_at == datetime.fromtimestamp(first, UTC)
    assert documents["b.md"].indexed_at == datetime.fromtimestamp(clock.now, UTC)
    assert index.info().last_indexed == datetime.fromtimestamp(clock.now, UTC)
    index.delete_document("b.md")
    assert [d.document_id for d in index.documents()] == ["a.md"]


def test_it_remembers_which_embedding_model_made_its_vectors(index: VectorIndex) -> None:
    index.record_embedder("model-a")
    assert index.embedder == "model-a"
    assert index.info().embedder == "model-a"


def test_reembedding_replaces_vectors_and_records_the_model(
    index: VectorIndex, clock: Clock
) -> None:
    _fill(index)
    clock.now += 60
    assert index.reembed({"a.md#1": _unit(0, 0, 1)}, embedder="model-b") == 1
    assert [i for i, _ in index.vector_search(_unit(0, 0, 1), 1)] == ["a.md#1"]
    assert index.embedder == "model-b"
    times = {d.document_id: d.indexed_at for d in index.documents()}
    assert times["a.md"] == datetime.fromtimestamp(clock.now, UTC)
    assert times["b.md"] == datetime.fromtimestamp(clock.now - 60, UTC)


def test_vectors_of_another_length_must_replace_every_chunks(index: VectorIndex) -> None:
    _fill(index)
    with pytest.raises(ValueError, match="whole index"):
        index.reembed({"a.md#0": np.ones(4, np.float32) / 2}, embedder="wide")
    assert index.dimensions == 3
    wide = {
        "a.md#0": np.asarray([1, 0, 0, 0], np.float32),
        "a.md#1": np.asarray([0, 1, 0, 0], np.float32),
        "b.md#0": np.asarray([0, 0, 0, 1], np.float32),
    }
    assert index.reembed(wide, embedder="wide") == 3
    assert index.dimensions == 4 and index.info().dimensions == 4
    assert [i for i, _ in index.vector_search(wide["b.md#0"], 1)] == ["b.md#0"]
    assert {i for i, _ in index.lexical_search("walrus", 5)} == {"a.md#0", "b.md#0"}
