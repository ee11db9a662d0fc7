from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from llmopt.config import load_document, update_entry_flags
from llmopt.errors import ConfigError, ConflictError, RecordNotFound
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

SECRET = "sk-ant-never-show-me-4242"


@pytest.fixture
def store() -> SQLiteStore:
    store = SQLiteStore(":memory:")
    store.write_document(
        DocumentName.AI_CONFIG,
        {
            "llm": [
                {
                    "provider": "anthropic",
                    "configuration": {"model": "claude-sonnet-4-5", "apiKey": SECRET},
                },
                {"provider": "ollama", "configuration": {"model": "llama3.1"}},
            ],
            "embedding": [{"provider": "openAI"}],
        },
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )
    return store


def test_an_edit_is_saved_with_an_audit_record_that_hides_the_key(store: SQLiteStore) -> None:
    revision = load_document(store).revision
    assert revision is not None
    document = update_entry_flags(
        store,
        "anthropic:claude-sonnet-4-5",
        {"optimizationEnabled": True, "cachingEnabled": True, "cacheTTL": 3600},
        expected_revision=revision,
        actor="alice",
        reason="enable caching",
    )
    configuration = load_document(store).entry("anthropic:claude-sonnet-4-5").configuration
    assert configuration is not None
    assert configuration["cacheTTL"] == 3600 and configuration["apiKey"] == SECRET
    assert document.revision != revision
    [record] = store.list_audit(action="config.update")
    assert (record.actor, record.target, record.reason) == (
        "alice",
        "llm:anthropic:claude-sonnet-4-5",
        "enable caching",
    )
    assert record.after["cacheTTL"] == 3600
    assert SECRET not in repr(record)


def test_a_stale_revision_is_a_conflict_and_writes_nothing(store: SQLiteStore) -> None:
    revision = load_document(store).revision
    assert revision is not None
    update_entry_flags(
        store, "ollama:llama3.1", {"batchTimeout": 60}, expected_revision=revision, actor="a"
    )
    with pytest.raises(ConflictError):
        update_entry_flags(
            store, "ollama:llama3.1", {"batchTimeout": 90}, expected_revision=revision, actor="b"
        )
    configuration = load_document(store).entry("ollama:llama3.1").configuration
    assert configuration is not None and configuration["batchTimeout"] == 60
    assert len(store.list_audit(action="config.update")) == 1


def test_invalid_flags_are_rejected_and_nothing_is_written(store: SQLiteStore) -> None:
    before = store.read_document(DocumentName.AI_CONFIG)
    assert before is not None
    with pytest.raises(ConfigError) as caught:
        update_entry_flags(
            store,
            "ollama:llama3.1",
            {"batchingEnabled": True, "cacheTTL": 10},
            expected_revision=before.revision,
            actor="a",
        )
    assert set(caught.value.by_field()) == {"batchingEnabled", "cacheTTL"}
    assert store.read_document(DocumentName.AI_CONFIG) == before
    assert store.list_audit(action="config.update") == []


def test_only_flags_can_be_changed_here(store: SQLiteStore) -> None:
    revision = load_document(store).revision
    assert revision is not None
    with pytest.raises(ConfigError) as caught:
        update_entry_flags(
            store,
            "ollama:llama3.1",
            {"apiKey": "x", "model": "y"},
            expected_revision=revision,
            actor="a",
        )
    assert set(caught.value.by_field()) == {"apiKey", "model"}


def test_an_unknown_entry_is_not_found(store: SQLiteStore) -> None:
    revision = load_document(store).revision
    assert revision is not None
    with pytest.raises(RecordNotFound):
        update_entry_flags(store, "nope", {"cacheTTL": 300}, expected_revision=revision, actor="a")


def test_a_change_that_changes_nothing_writes_nothing(store: SQLiteStore) -> None:
    update = {"cacheTTL": 3600}
    revision = load_document(store).revision
    assert revision is not None
    first = update_entry_flags(
        store, "anthropic:claude-sonnet-4-5", update, expected_revision=revision, actor="a"
    )
    second = update_entry_flags(
        store,
        "anthropic:claude-sonnet-4-5",
        update,
        expected_revision=first.revision or "",
        actor="a",
    )
    assert second.revision == first.revision
    assert len(store.list_audit(action="config.update")) == 1


def test_setting_a_flag_to_the_value_it_already_has_writes_nothing(store: SQLiteStore) -> None:
    revision = load_document(store).revision
    assert revision is not None
    document = update_entry_flags(
        store,
        "ollama:llama3.1",
        {"optimizationEnabled": False},
        expected_revision=revision,
        actor="a",
    )
    assert document.revision == revision
    assert store.list_audit(action="config.update") == []


def test_an_empty_change_writes_nothing_even_where_flags_are_missing(store: SQLiteStore) -> None:
    document = load_document(store)
    assert document.revision is not None
    before = document.entry("ollama:llama3.1").configuration
    after = update_entry_flags(
        store, "ollama:llama3.1", {}, expected_revision=document.revision, actor="a"
    )
    assert after.revision == document.revision
    assert after.entry("ollama:llama3.1").configuration == before
    assert store.list_audit(action="config.update") == []


def test_concurrent_editors_who_retry_lose_no_update(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [{"provider": "anthropic", "configuration": {"model": "claude-sonnet-4-5"}}]},
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )
    editors = 20
    barrier = threading.Barrier(editors, timeout=30)
    conflicts = []

    def edit(n: int) -> None:
        revision = load_document(store).revision or ""
        barrier.wait()  # every editor starts from the same revision: they must collide
        while True:
            try:
                update_entry_flags(
                    store,
                    "anthropic:claude-sonnet-4-5",
                    {"batchMaxSize": 1000 + n},
                    expected_revision=revision,
                    actor=f"editor-{n}",
                )
                return
            except ConflictError:
                conflicts.append(n)
                revision = load_document(store).revision or ""

    with ThreadPoolExecutor(max_workers=editors) as pool:
        list(pool.map(edit, range(editors)))

    records = list(reversed(store.list_audit(action="config.update", limit=100)))
    assert sorted(r.actor for r in records) == sorted(f"editor-{n}" for n in range(editors))
    # Each edit started from the previous one's result: a chain, so nothing was lost.
    for earlier, later in zip(records, records[1:], strict=False):
        assert later.before.get("batchMaxSize") == earlier.after["batchMaxSize"]
    final = load_document(store).entry("anthropic:claude-sonnet-4-5").configuration or {}
    assert final["batchMaxSize"] == records[-1].after["batchMaxSize"]
    assert conflicts, "the editors never collided, so this proved nothing"


def test_reading_a_malformed_document_never_rewrites_it() -> None:
    store = SQLiteStore(":memory:")
    malformed = {"llm": [{"provider": "acme"}, "junk", {"configuration": {"cacheTTL": "soon"}}]}
    store.write_document(
        DocumentName.AI_CONFIG,
        malformed,
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )
    before = store.read_document(DocumentName.AI_CONFIG)
    document = load_document(store)
    assert [len(entry.problems) > 0 for entry in document.entries] == [True, True, True]
    assert store.read_document(DocumentName.AI_CONFIG) == before
    assert [r.action for r in store.list_audit()] == ["seed"]
