"""The demo's retrieval index: real documents (Python's own documentation topics),
built once at demo start, shown by the Context page; skipped without the extra."""

from __future__ import annotations

import pytest
from django.test import Client

from console.context.indexes import close_indexes, context_overview, index_folder
from console.demo.context import DEMO_INDEX, DEMO_TOPICS, demo_topics, seed_demo_context
from llmopt.retrieval import DEFAULT_EMBEDDER
from llmopt.store import Store

from ..test_context_page import hide_retrieval

pytestmark = pytest.mark.django_db


def test_the_demo_index_holds_python_documentation_topics_and_is_built_once(
    store: Store, signed_in: Client
) -> None:
    chunks = seed_demo_context(index_folder())
    assert chunks is not None and chunks > DEMO_TOPICS
    assert seed_demo_context(index_folder()) is None
    [row] = context_overview().indexes
    assert row.info.name == DEMO_INDEX and row.info.documents == DEMO_TOPICS
    assert row.info.embedder == DEFAULT_EMBEDDER
    assert "topics/assignment" in [d.document_id for d in row.documents]
    assert "assignment statement" in demo_topics()["assignment"].lower()
    response = signed_in.get(
        "/context/search/", {"index": DEMO_INDEX, "q": "augmented assignment", "mode": "hybrid"}
    )
    assert response.status_code == 200
    assert "pydoc_data.topics/augassign" in response.content.decode()
    close_indexes()


def test_without_the_extra_the_demo_builds_no_index(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_retrieval(monkeypatch)
    assert seed_demo_context(index_folder()) is None
    assert not list(index_folder().glob("retrieval-*"))
