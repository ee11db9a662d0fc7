"""Keeping an index right: which embedding model made it (a search with another is an
error), re-embedding from the stored text, deleting, the audit of both, and finding the
indexes beside the store without loading them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmopt.errors import RecordNotFound
from llmopt.retrieval import (
    ACTION_DELETE_DOCUMENT,
    ACTION_REINDEX,
    DEFAULT_EMBEDDER,
    ContextRetriever,
    EmbedderMismatchError,
    SQLiteVectorIndex,
    default_index_path,
    embedder_name,
    list_indexes,
    read_document_infos,
    read_index_info,
)
from llmopt.store import SQLiteStore

from ._corpus import DOCS
from .conftest import CountingEmbeddings


class WideEmbeddings(CountingEmbeddings):
    """Another model: other vectors, of another length."""

    embedder_name = "wide-test-model"

    def __init__(self) -> None:
        super().__init__(dimensions=96)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "llmopt.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def retriever(
    tmp_path: Path, embeddings: CountingEmbeddings, store: SQLiteStore
) -> Iterator[ContextRetriever]:
    made = ContextRetriever(tmp_path / "retrieval-docs.sqlite3", embeddings=embeddings, store=store)
    made.embed_and_index(DOCS)
    yield made
    made.close()


def test_indexing_records_the_embedding_model_that_made_the_vectors(
    retriever: ContextRetriever,
) -> None:
    assert retriever.index.embedder == embedder_name(retriever._embeddings)
    assert retriever.index.embedder.endswith("conftest.CountingEmbeddings")
    assert embedder_name(None) == DEFAULT_EMBEDDER


def test_searching_by_vector_with_another_model_is_an_error_not_noise(
    retriever: ContextRetriever,
) -> None:
    other = ContextRetriever(retriever.index, embeddings=WideEmbeddings())
    with pytest.raises(EmbedderMismatchError, match="made by .*CountingEmbeddings"):
        other.semantic_search("penguins", mode="hybrid")
    with pytest.raises(EmbedderMismatchError, match="wide-test-model"):
        other.embed_and_index(["a new document"])
    assert other.semantic_search("penguins", mode="lexical")  # words need no model


def test_reindexing_the_whole_index_moves_it_to_a_new_model(
    retriever: ContextRetriever, store: SQLiteStore
) -> None:
    chunks = retriever.index.count()
    wide = WideEmbeddings()
    other = ContextRetriever(retriever.index, embeddings=wide, store=store)
    report = other.reindex(actor="dana", reason="new embedding model")
    assert (report.documents, report.chunks) == (len(DOCS), chunks)
    assert report.embedder == "wide-test-model" and report.previous_embedder != report.embedder
    assert len(wide.embedded) == report.embedded == chunks
    assert retriever.index.dimensions == 96 and retriever.index.embedder == "wide-test-model"
    assert other.semantic_search("penguins flightless", 1, mode="vector")[0].chunk.source
    [event] = store.list_audit(action=ACTION_REINDEX)
    assert (event.actor, event.target, event.reason) == (
        "dana",
        "retrieval:docs",
        "new embedding model",
    )
    assert event.after["chunks"] == chunks and event.after["embedder"] == "wide-test-model"


def test_reindexing_one_document_re_embeds_only_its_stored_text(
    retriever: ContextRetriever, embeddings: CountingEmbeddings, store: SQLiteStore
) -> None:
    document = retriever.index.document_ids()[0]
    expected = [c.text for c in retriever.index.chunks_of(document)]
    embeddings.embedded.clear()
    report = retriever.reindex(document, actor="dana", reason="vectors looked wrong")
    assert embeddings.embedded == list(dict.fromkeys(expected))
    assert (report.documents, report.chunks) == (1, len(expected))
    [event] = store.list_audit(action=ACTION_REINDEX)
    assert event.target == f"retrieval:docs/{document}"


def test_one_document_cannot_move_to_another_model_alone(retriever: ContextRetriever) -> None:
    other = ContextRetriever(retriever.index, embeddings=WideEmbeddings())
    with pytest.raises(EmbedderMismatchError, match="re-index the whole index"):
        other.reindex(retriever.index.document_ids()[0])


def test_reindexing_a_document_the_index_lacks_says_so(retriever: ContextRetriever) -> None:
    with pytest.raises(RecordNotFound, match="no document 'nope.md'"):
        retriever.reindex("nope.md")


def test_deleting_a_document_is_audited_with_how_many_chunks_went(
    retriever: ContextRetriever, store: SQLiteStore
) -> None:
    document = retriever.index.document_ids()[0]
    chunks = len(retriever.index.chunks_of(document))
    assert retriever.delete_document(document, actor="dana", reason="withdrawn") == chunks
    [event] = store.list_audit(action=ACTION_DELETE_DOCUMENT)
    assert (event.target, event.reason, event.before) == (
        f"retrieval:docs/{document}",
        "withdrawn",
        {"chunks": chunks},
    )
    assert document not in retriever.index.document_ids()


def test_an_audited_change_needs_a_store(embeddings: CountingEmbeddings) -> None:
    retriever = ContextRetriever(":memory:", embeddings=embeddings)
    retriever.embed_and_index(DOCS)
    with pytest.raises(ValueError, match="store="):
        retriever.delete_document(retriever.index.document_ids()[0], actor="dana")
    assert retriever.index.count() > 0


def test_indexes_beside_the_store_are_listed_without_loading_them(
    tmp_path: Path, retriever: ContextRetriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMOPT_SQLITE_PATH", str(tmp_path / "llmopt.sqlite3"))
    assert default_index_path("docs") == tmp_path / "retrieval-docs.sqlite3"
    SQLiteVectorIndex(default_index_path("empty")).close()
    (tmp_path / "retrieval-broken.sqlite3").write_text("not a database")
    (tmp_path / "notes.sqlite3").write_text("")
    found = {info.name: info for info in list_indexes()}
    assert sorted(found) == ["docs", "empty"]
    docs = found["docs"]
    assert (docs.documents, docs.chunks) == (len(DOCS), retriever.index.count())
    assert docs.dimensions == 64 and docs.embedder == retriever.embedder
    assert docs.size_bytes and docs.size_bytes > 0 and docs.last_indexed is not None
    assert found["empty"].chunks == 0 and found["empty"].dimensions is None
    assert read_index_info(docs.path or "") == docs
    assert [d.document_id for d in read_document_infos(docs.path or "")] == sorted(
        retriever.index.document_ids()
    )
    assert list_indexes(tmp_path / "nowhere") == []


def test_a_reopened_index_keeps_its_model_and_its_new_vectors(
    tmp_path: Path, retriever: ContextRetriever
) -> None:
    other = ContextRetriever(retriever.index, embeddings=WideEmbeddings())
    other.reindex()
    retriever.close()
    reopened = ContextRetriever(tmp_path / "retrieval-docs.sqlite3", embeddings=WideEmbeddings())
    assert reopened.index.dimensions == 96
    assert reopened.semantic_search("penguins", 1)[0].vector_score is not None
    reopened.close()


def test_a_new_index_file_is_the_owners_alone(tmp_path: Path) -> None:
    SQLiteVectorIndex(tmp_path / "retrieval-private.sqlite3").close()
    assert (tmp_path / "retrieval-private.sqlite3").stat().st_mode & 0o777 == 0o600
