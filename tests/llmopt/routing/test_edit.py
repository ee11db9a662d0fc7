from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmopt.config import load_document
from llmopt.errors import ConfigError, ConflictError
from llmopt.routing import update_routing
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

BODY: dict[str, Any] = {
    "llm": [
        {
            "provider": "anthropic",
            "modelKey": "claude",
            "configuration": {"model": "claude-sonnet-4-6"},
        },
        {"provider": "ollama", "modelKey": "local", "configuration": {"model": "llama3.1:8b"}},
    ],
    "embeddings": [{"kept": True}],
}


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "s.db")
    store.write_document(
        DocumentName.AI_CONFIG,
        BODY,
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="doc"),
    )
    return store


def test_saving_routing_keeps_the_rest_of_the_document_and_is_audited(store: SQLiteStore) -> None:
    revision = load_document(store).revision
    assert revision is not None
    routing = {"enabled": True, "fallbackChain": ["claude", "local"]}
    saved = update_routing(store, routing, expected_revision=revision, actor="dana", reason="go")
    assert saved.body["routing"] == routing
    assert saved.body["embeddings"] == [{"kept": True}]
    record = store.list_audit(action="routing.update")[0]
    assert (record.actor, record.before, record.after, record.reason) == (
        "dana",
        None,
        routing,
        "go",
    )


def test_invalid_routing_writes_nothing(store: SQLiteStore) -> None:
    revision = load_document(store).revision
    assert revision is not None
    with pytest.raises(ConfigError, match="names 'ghost'"):
        update_routing(store, {"fallbackChain": ["ghost"]}, expected_revision=revision, actor="d")
    assert load_document(store).revision == revision
    assert store.list_audit(action="routing.update") == []


def test_a_stale_revision_is_a_conflict(store: SQLiteStore) -> None:
    with pytest.raises(ConflictError, match="changed by someone else"):
        update_routing(store, {"enabled": True}, expected_revision="stale", actor="d")
