"""Searching: the three modes, fusion, filters and the re-ranking hook."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document

from llmopt.retrieval import ContextRetriever, SearchHit, reciprocal_rank_fusion

from ._corpus import DOCS
from .conftest import CountingEmbeddings


@pytest.fixture
def retriever(embeddings: CountingEmbeddings) -> ContextRetriever:
    r = ContextRetriever(":memory:", embeddings=embeddings)
    r.embed_and_index(DOCS)
    return r


def _texts(hits: Sequence[SearchHit]) -> list[str]:
    return [hit.chunk.text.split("\n")[0] for hit in hits]


@pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
def test_every_mode_puts_the_chunk_about_the_question_first(
    retriever: ContextRetriever, mode: str
) -> None:
    hits = retriever.semantic_search("how long is green tea steeped", 3, mode=mode)  # type: ignore[arg-type]
    assert _texts(hits)[0] == "# Tea"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_lexical_scores_only_chunks_sharing_a_word(retriever: ContextRetriever) -> None:
    hits = retriever.semantic_search("penguins", 5, mode="lexical")
    assert _texts(hits) == ["# Birds"]
    assert hits[0].lexical_score is not None and hits[0].vector_score is None


def test_hybrid_keeps_both_scores_and_fuses_by_rank(retriever: ContextRetriever) -> None:
    hits = retriever.semantic_search("walrus", 5, mode="hybrid")
    assert {"# Walrus", "# Mammals"} <= set(_texts(hits[:2]))
    both = [h for h in hits if h.lexical_score is not None and h.vector_score is not None]
    assert both and all(h.score <= 2 / 61 for h in hits)


def test_filters_restrict_every_mode_to_matching_metadata(retriever: ContextRetriever) -> None:
    for mode in ("lexical", "vector", "hybrid"):
        hits = retriever.semantic_search("walrus", 5, filters={"topic": "nature"}, mode=mode)  # type: ignore[arg-type]
        assert hits and {h.chunk.source for h in hits} == {"animals.md"}


def test_rrf_favours_an_item_both_rankings_agree_on() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "b", "a"], ["b"]])
    assert [item for item, _ in fused][0] == "b"
    assert fused[0][1] == pytest.approx(2 / 62 + 1 / 61)


def test_rrf_breaks_ties_by_id_not_by_arrival() -> None:
    assert [i for i, _ in reciprocal_rank_fusion([["y"], ["x"]])] == ["x", "y"]


def test_a_callable_reranker_decides_the_final_order(embeddings: CountingEmbeddings) -> None:
    seen: list[int] = []

    def shortest_first(query: str, hits: list[SearchHit]) -> list[SearchHit]:
        seen.append(len(hits))
        return sorted(hits, key=lambda h: len(h.chunk.text))

    r = ContextRetriever(":memory:", embeddings=embeddings, reranker=shortest_first)
    r.embed_and_index(DOCS)
    hits = r.semantic_search("walrus", 2)
    assert seen and seen[0] >= 2
    assert [len(h.chunk.text) for h in hits] == sorted(len(h.chunk.text) for h in hits)


class _KeepBirds(BaseDocumentCompressor):
    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        return [
            Document(page_content=d.page_content, id=d.id, metadata={"relevance_score": 0.9})
            for d in documents
            if "Birds" in d.page_content
        ]


def test_a_langchain_compressor_can_rerank_and_drop(embeddings: CountingEmbeddings) -> None:
    r = ContextRetriever(":memory:", embeddings=embeddings, reranker=_KeepBirds())
    r.embed_and_index(DOCS)
    hits = r.semantic_search("animals", 5)
    assert _texts(hits) == ["# Birds"]
    assert hits[0].score == 0.9


def test_rank_by_relevance_ranks_given_documents_without_touching_the_index(
    retriever: ContextRetriever,
) -> None:
    before = retriever.index.count()
    ranked = retriever.rank_by_relevance(
        ["penguins swim", "tea leaves", "nothing relevant here"], "where do penguins swim"
    )
    assert [h.chunk.text for h in ranked][0] == "penguins swim"
    assert len(ranked) == 3
    assert retriever.index.count() == before
