"""``/api/context``: the retrieval indexes read by every role, searched by every role
(hits with their three scores, the assembled context and its tokens), re-indexed and
documents deleted by operators (a reason required, audited); no index; no extra."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from console.audit.actions import ACTION_DELETE_CONTEXT_DOCUMENT, ACTION_REINDEX_CONTEXT
from console.context.indexes import close_indexes
from llmopt.retrieval import (
    ACTION_DELETE_DOCUMENT,
    ACTION_REINDEX,
    DEFAULT_EMBEDDER,
    ContextRetriever,
)
from llmopt.store import Store

from .test_context_page import DOCS, INSTALL, OtherEmbeddings, hide_retrieval, index_path

pytestmark = pytest.mark.django_db
URL = "/api/context"
SEARCH_URL = f"{URL}/docs/search"
REINDEX_URL = f"{URL}/docs/reindex"
DELETE_URL = f"{URL}/docs/documents/{INSTALL}"


@pytest.fixture
def no_index(store: Store) -> Iterator[Store]:
    yield store
    close_indexes()


@pytest.fixture
def docs(no_index: Store) -> Iterator[ContextRetriever]:
    retriever = ContextRetriever(index_path())
    retriever.embed_and_index(DOCS)
    yield retriever
    retriever.close()


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def delete(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.delete(url, body, content_type="application/json")


def test_the_console_spells_the_cores_audit_actions() -> None:
    assert (ACTION_REINDEX_CONTEXT, ACTION_DELETE_CONTEXT_DOCUMENT) == (
        ACTION_REINDEX,
        ACTION_DELETE_DOCUMENT,
    )


def test_a_viewer_reads_each_index_with_its_documents_and_freshness(
    signed_in: Client, docs: ContextRetriever
) -> None:
    response = signed_in.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["available"] is True and body["detail"] == ""
    [index] = body["indexes"]
    assert index["name"] == "docs" and index["documents"] == 3
    assert index["chunks"] == docs.index.count() and index["dimensions"] == 256
    assert index["embedder"] == DEFAULT_EMBEDDER and index["sizeBytes"] > 0
    assert index["lastIndexed"] is not None
    documents = {d["id"]: d for d in index["documentList"]}
    assert sorted(documents) == sorted(d.metadata["source"] for d in DOCS)
    assert documents[INSTALL]["chunks"] == 2 and documents[INSTALL]["indexedAt"]


def test_a_viewer_searches_and_gets_scores_and_the_assembled_context(
    signed_in: Client, docs: ContextRetriever
) -> None:
    response = post(signed_in, SEARCH_URL, {"query": "install with pip", "topK": 3})
    assert response.status_code == 200
    body = response.json()
    first = body["hits"][0]
    assert first["source"] == INSTALL and first["headingPath"][0] == "Install"
    assert first["end"] > first["start"] >= 0
    assert first["vectorScore"] is not None and first["lexicalScore"] is not None
    assert first["score"] > 0 and first["inContext"] is True
    context = body["context"]
    assert 0 < context["tokenCount"] <= context["maxTokens"] == 2000
    assert f"[{INSTALL}]" in context["text"] and first["chunkId"] in context["chunkIds"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "pip", "topK": 0}, "topK"),
        ({"query": "pip", "maxTokens": 40000}, "maxTokens"),
        ({"query": "pip", "mode": "fuzzy"}, "mode"),
        ({"query": "pip", "topK": "5"}, "topK"),
        ({"query": "two\nlines"}, "query"),
        ({"query": "pip", "filters": {}}, "filters"),
        ({}, "query"),
    ],
)
def test_a_bad_search_is_a_422_on_its_field(
    signed_in: Client, docs: ContextRetriever, body: dict[str, Any], field: str
) -> None:
    response = post(signed_in, SEARCH_URL, body)
    assert response.status_code == 422
    assert [problem["field"] for problem in response.json()["detail"]] == [field]


def test_a_blank_query_is_a_422_on_the_query(signed_in: Client, docs: ContextRetriever) -> None:
    response = post(signed_in, SEARCH_URL, {"query": "   "})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "query"


def test_an_unknown_index_is_a_404(signed_in: Client, docs: ContextRetriever) -> None:
    response = post(signed_in, f"{URL}/nowhere/search", {"query": "pip"})
    assert response.status_code == 404
    assert "no retrieval index called 'nowhere'" in response.json()["detail"]


def test_a_vector_search_of_an_index_made_by_another_model_is_a_422_on_mode(
    signed_in: Client, no_index: Store
) -> None:
    other = ContextRetriever(index_path(), embeddings=OtherEmbeddings())
    other.embed_and_index(DOCS)
    other.close()
    response = post(signed_in, SEARCH_URL, {"query": "pip", "mode": "vector"})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "mode" and "made by other-model" in problem["message"]
    assert post(signed_in, SEARCH_URL, {"query": "pip", "mode": "lexical"}).status_code == 200


def test_an_operator_re_indexes_the_whole_index_audited(operator: Client, no_index: Store) -> None:
    other = ContextRetriever(index_path(), embeddings=OtherEmbeddings())
    other.embed_and_index(DOCS)
    chunks = other.index.count()
    other.close()
    response = post(operator, REINDEX_URL, {"reason": "moved to WordLlama"})
    assert response.status_code == 200
    assert response.json() == {
        "index": "docs",
        "document": None,
        "documents": 3,
        "chunks": chunks,
        "embedded": chunks,
        "embedder": DEFAULT_EMBEDDER,
        "previousEmbedder": "other-model",
    }
    [event] = no_index.list_audit(action=ACTION_REINDEX)
    assert (event.actor, event.target, event.reason) == (
        "operator",
        "retrieval:docs",
        "moved to WordLlama",
    )


def test_an_operator_re_indexes_one_document(
    operator: Client, docs: ContextRetriever, no_index: Store
) -> None:
    response = post(operator, REINDEX_URL, {"document": INSTALL, "reason": "check"})
    assert response.status_code == 200
    assert response.json()["chunks"] == 2 and response.json()["document"] == INSTALL
    [event] = no_index.list_audit(action=ACTION_REINDEX)
    assert event.target == f"retrieval:docs/{INSTALL}"


def test_an_operator_deletes_a_document_whose_id_has_slashes_audited(
    operator: Client, docs: ContextRetriever, no_index: Store
) -> None:
    response = delete(operator, DELETE_URL, {"reason": "withdrawn"})
    assert response.status_code == 200
    assert response.json() == {"index": "docs", "document": INSTALL, "removed": 2}
    assert INSTALL not in [d["id"] for d in operator.get(URL).json()["indexes"][0]["documentList"]]
    [event] = no_index.list_audit(action=ACTION_DELETE_DOCUMENT)
    assert (event.target, event.reason) == (f"retrieval:docs/{INSTALL}", "withdrawn")


@pytest.mark.parametrize(
    ("send", "url", "body", "status", "field"),
    [
        (post, REINDEX_URL, {}, 422, "reason"),
        (post, REINDEX_URL, {"reason": "   "}, 422, "reason"),
        (post, REINDEX_URL, {"document": "nope.md", "reason": "x"}, 404, None),
        (post, f"{URL}/nowhere/reindex", {"reason": "x"}, 404, None),
        (delete, DELETE_URL, {"reason": ""}, 422, "reason"),
        (delete, f"{URL}/docs/documents/nope.md", {"reason": "x"}, 404, None),
    ],
)
def test_a_change_without_a_reason_or_a_target_is_refused_and_not_audited(
    operator: Client,
    docs: ContextRetriever,
    no_index: Store,
    send: Any,
    url: str,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    response = send(operator, url, body)
    assert response.status_code == status
    if field is not None:
        assert [p["field"] for p in response.json()["detail"]] == [field]
    else:
        assert "no " in response.json()["detail"]
    assert no_index.list_audit(action=ACTION_REINDEX) == []
    assert no_index.list_audit(action=ACTION_DELETE_DOCUMENT) == []


@pytest.mark.parametrize(("send", "url"), [(post, REINDEX_URL), (delete, DELETE_URL)])
def test_a_viewer_cannot_re_index_or_delete(
    signed_in: Client, docs: ContextRetriever, no_index: Store, send: Any, url: str
) -> None:
    response = send(signed_in, url, {"reason": "x"})
    assert response.status_code == 403
    assert no_index.list_audit(action=ACTION_REINDEX) == []
    assert no_index.list_audit(action=ACTION_DELETE_DOCUMENT) == []


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", URL, None),
        ("post", SEARCH_URL, {"query": "pip"}),
        ("post", REINDEX_URL, {"reason": "x"}),
        ("delete", DELETE_URL, {"reason": "x"}),
    ],
)
def test_an_outsider_gets_403(
    outsider: Client, docs: ContextRetriever, method: str, url: str, body: Any
) -> None:
    kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
    response = getattr(outsider, method)(url, **kwargs)
    assert response.status_code == 403
    assert "walrus" not in response.content.decode()


def test_without_an_index_the_list_is_empty_and_says_how_to_create_one(
    signed_in: Client, no_index: Store
) -> None:
    body = signed_in.get(URL).json()
    assert body["indexes"] == [] and body["available"] is True
    assert 'ContextRetriever(default_index_path("docs"))' in body["howToCreate"]


def test_without_the_extra_the_api_says_which_to_install(
    signed_in: Client, no_index: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_retrieval(monkeypatch)
    body = signed_in.get(URL).json()
    assert body["available"] is False and "pip install 'llmopt[retrieval]'" in body["detail"]
    response = post(signed_in, SEARCH_URL, {"query": "pip"})
    assert response.status_code == 422
    assert "llmopt[retrieval]" in response.json()["detail"][0]["message"]
