"""Bad arguments get errors that say what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from llmopt.retrieval import ContextRetriever, assemble_context, reciprocal_rank_fusion
from llmopt.retrieval._sqlite import default_index_path

from .conftest import CountingEmbeddings


@pytest.fixture
def retriever(embeddings: CountingEmbeddings) -> ContextRetriever:
    r = ContextRetriever(":memory:", embeddings=embeddings)
    r.embed_and_index(["some text about walruses"])
    return r


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"top_k": 0}, "top_k must be a whole number of at least 1"),
        ({"top_k": True}, "top_k"),
        ({"mode": "fuzzy"}, "mode must be one of lexical, vector, hybrid"),
        ({"filters": ["source"]}, "filters must be a mapping"),
        ({"filters": {"a b": 1}}, "is not a metadata name"),
        ({"filters": {"tags": ["x"]}}, "must equal a string, number, boolean or None"),
    ],
)
def test_semantic_search_rejects(
    retriever: ContextRetriever, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        retriever.semantic_search("walrus", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_tokens": 0}, "max_tokens must be a whole number of at least 1"),
        ({"order": "random"}, "order must be one of stable, relevance"),
    ],
)
def test_retrieve_context_rejects(
    retriever: ContextRetriever, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        retriever.retrieve_context("walrus", **kwargs)


def test_a_query_must_be_text(retriever: ContextRetriever) -> None:
    with pytest.raises(ValueError, match="query must be a string"):
        retriever.semantic_search(42)  # type: ignore[arg-type]


def test_documents_must_be_documents_or_strings(retriever: ContextRetriever) -> None:
    with pytest.raises(ValueError, match="expected a LangChain Document or a string"):
        retriever.embed_and_index([{"text": "x"}])  # type: ignore[list-item]


def test_the_reranker_must_be_callable() -> None:
    with pytest.raises(ValueError, match="reranker must be a callable"):
        ContextRetriever(":memory:", reranker="cohere")  # type: ignore[arg-type]


def test_another_embedding_model_cannot_write_into_an_index(
    retriever: ContextRetriever,
) -> None:
    other = ContextRetriever(retriever.index, embeddings=CountingEmbeddings(dimensions=32))
    with pytest.raises(ValueError, match="64-dimension vectors and cannot take 32"):
        other.embed_and_index(["new text"])
    with pytest.raises(ValueError, match="query vector has 32 dimensions"):
        other.semantic_search("walrus", mode="vector")


def test_rrf_and_assembly_and_paths_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        reciprocal_rank_fusion([["a"]], k=0)
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        assemble_context([], max_tokens=0, count=len)
    with pytest.raises(ValueError, match="index name"):
        default_index_path("../etc")
