"""Incremental indexing: add, update, delete, idempotent by content hash, persistent."""

from __future__ import annotations

from pathlib import Path

from langchain_core.documents import Document

from llmopt.retrieval import ContextRetriever, SQLiteVectorIndex

from ._corpus import DOCS
from .conftest import CountingEmbeddings


def test_reindexing_unchanged_documents_embeds_and_writes_nothing(
    embeddings: CountingEmbeddings,
) -> None:
    retriever = ContextRetriever(":memory:", embeddings=embeddings)
    first = retriever.embed_and_index(DOCS)
    sent = len(embeddings.embedded)
    again = retriever.embed_and_index(DOCS)
    assert first.embedded == sent == retriever.index.count() == 5
    assert len(embeddings.embedded) == sent
    assert (again.embedded, again.added, again.removed, again.unchanged) == (0, 0, 0, 5)


def test_updating_a_document_embeds_only_its_new_text(embeddings: CountingEmbeddings) -> None:
    retriever = ContextRetriever(":memory:", embeddings=embeddings)
    retriever.embed_and_index(DOCS)
    embeddings.embedded.clear()
    changed = Document(
        page_content=DOCS[1].page_content.replace("flightless birds", "flightless seabirds"),
        metadata=DOCS[1].metadata,
    )
    report = retriever.embed_and_index([changed])
    assert embeddings.embedded == [
        "# Birds\n\nPenguins are flightless seabirds of the southern ocean."
    ]
    assert (report.added, report.removed, report.unchanged, report.embedded) == (1, 1, 1, 1)
    assert retriever.index.count() == 5
    assert retriever.semantic_search("seabirds", 1, mode="lexical")[0].chunk.source == "animals.md"
    assert retriever.semantic_search("flightless birds", 5, mode="lexical")[0].chunk.text.endswith(
        "seabirds of the southern ocean."
    )


def test_the_same_text_in_another_document_reuses_its_vector(
    embeddings: CountingEmbeddings,
) -> None:
    retriever = ContextRetriever(":memory:", embeddings=embeddings)
    retriever.embed_and_index(DOCS[2:])
    embeddings.embedded.clear()
    copy = Document(page_content=DOCS[2].page_content, metadata={"source": "copy.md"})
    assert retriever.embed_and_index([copy]).embedded == 0
    assert retriever.index.document_ids() == ["copy.md", "kitchen.md"]


def test_deleting_a_document_removes_it_from_search(embeddings: CountingEmbeddings) -> None:
    retriever = ContextRetriever(":memory:", embeddings=embeddings)
    retriever.embed_and_index(DOCS)
    assert retriever.delete_document("kitchen.md") == 1
    assert all(h.chunk.source != "kitchen.md" for h in retriever.semantic_search("green tea", 5))
    assert retriever.index.count() == 4


def test_documents_are_known_by_id_then_source_then_text(embeddings: CountingEmbeddings) -> None:
    retriever = ContextRetriever(":memory:", embeddings=embeddings)
    retriever.embed_and_index(
        [Document(page_content="alpha", id="doc-1", metadata={"source": "s"}), "beta"]
    )
    ids = retriever.index.document_ids()
    assert "doc-1" in ids and len(ids) == 2
    assert retriever.embed_and_index(["beta"]).unchanged == 1


def test_an_index_file_reopens_with_its_chunks_vectors_and_bm25(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    path = tmp_path / "var" / "retrieval.sqlite3"
    first = ContextRetriever(path, embeddings=embeddings)
    first.embed_and_index(DOCS)
    expected = first.retrieve_context("walrus", max_tokens=300).text
    first.close()

    embeddings.embedded.clear()
    reopened = ContextRetriever(SQLiteVectorIndex(path), embeddings=embeddings)
    assert reopened.index.count() == 5
    assert reopened.retrieve_context("walrus", max_tokens=300).text == expected
    assert reopened.embed_and_index(DOCS).embedded == 0
    assert embeddings.embedded == []
