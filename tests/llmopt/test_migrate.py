from __future__ import annotations

import copy
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from llmopt.config import OptimizationConfig, load_document
from llmopt.errors import MigrationError
from llmopt.killswitch import engage_kill_switch, read_kill_switch
from llmopt.migrate import migrate, reverse_migration
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

# The defaults themselves are pinned in tests/llmopt/config/test_flags.py.
DEFAULTS = OptimizationConfig().flags()
BODY: dict[str, Any] = {
    "llm": [
        {
            "provider": "anthropic",
            "isDefault": True,
            "configuration": {"model": "claude-sonnet-4-5", "apiKey": "sk-1"},
        },
        {
            "provider": "openAI",
            "configuration": {"model": "gpt-4o", "cachingEnabled": True, "cacheTTL": 3600},
        },
        {
            "provider": "anthropic",
            "modelKey": "legacy",
            "configuration": {
                "model": "claude-haiku-4-5",
                "optimization": {"cache": {"enabled": True, "ttl": "1h"}},
            },
        },
        {"provider": "ollama"},
    ],
    "embedding": [{"provider": "openAI", "configuration": {"model": "e"}}],
}


@pytest.fixture
def store() -> SQLiteStore:
    store = SQLiteStore(":memory:")
    store.write_document(
        DocumentName.AI_CONFIG,
        copy.deepcopy(BODY),
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    return store


def configuration(store: SQLiteStore, key: str) -> dict[str, Any]:
    return dict(load_document(store).entry(key).configuration or {})


def test_it_adds_the_missing_flags_with_safe_defaults(store: SQLiteStore, tmp_path: Path) -> None:
    report = migrate(store, actor="cli:me", backup_dir=tmp_path)
    assert configuration(store, "anthropic:claude-sonnet-4-5") == {
        "model": "claude-sonnet-4-5",
        "apiKey": "sk-1",
        **DEFAULTS,
    }
    assert report.changes and report.backup_path is not None


def test_it_never_changes_a_field_that_exists(store: SQLiteStore, tmp_path: Path) -> None:
    migrate(store, actor="me", backup_dir=tmp_path)
    openai = configuration(store, "openAI:gpt-4o")
    assert (openai["cachingEnabled"], openai["cacheTTL"]) == (True, 3600)


def test_an_entry_in_the_nested_form_is_left_as_it_is_and_keeps_its_meaning(
    store: SQLiteStore, tmp_path: Path
) -> None:
    report = migrate(store, actor="me", backup_dir=tmp_path)
    legacy = load_document(store).entry("legacy")
    assert legacy.configuration == BODY["llm"][2]["configuration"]
    assert legacy.config is not None
    assert (legacy.config.applies_caching, legacy.config.cache_ttl) == (True, 3600)
    assert "legacy\n  skipped: its flags are in the migration guide's nested optimization" in (
        "\n".join(report.diff_lines())
    )


def test_an_entry_with_the_guides_block_beside_its_configuration_is_left_as_it_is(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(":memory:")
    entry = {
        "provider": "anthropic",
        "configuration": {"model": "claude-sonnet-4-5", "apiKey": "sk-1"},
        "optimization": {"cache": {"enabled": False}, "fallback": {"enabled": True}},
    }
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [copy.deepcopy(entry)]},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    report = migrate(store, actor="me", backup_dir=tmp_path)
    assert not report.changes
    assert load_document(store).body["llm"] == [entry]


def test_it_creates_the_kill_switch_record_released_so_flags_mean_what_they_say(
    store: SQLiteStore, tmp_path: Path
) -> None:
    assert read_kill_switch(store).engaged  # no record: nothing is optimized
    report = migrate(store, actor="cli:me", backup_dir=tmp_path)
    switch = read_kill_switch(store)
    assert not switch.engaged and switch.problem is None and switch.actor == "cli:me"
    assert report.kill_switch.startswith("created the kill switch record, released")
    [record] = store.list_audit(action="killswitch.release")
    assert record.actor == "cli:me"


def test_it_leaves_an_existing_kill_switch_as_it_is(store: SQLiteStore, tmp_path: Path) -> None:
    engage_kill_switch(store, actor="oncall", reason="incident")
    report = migrate(store, actor="me", backup_dir=tmp_path)
    assert read_kill_switch(store).engaged
    assert report.kill_switch == "the kill switch record exists (engaged); left as it is"


def test_keep_off_leaves_the_kill_switch_missing(store: SQLiteStore, tmp_path: Path) -> None:
    report = migrate(store, actor="me", backup_dir=tmp_path, keep_off=True)
    assert store.read_document(DocumentName.KILL_SWITCH) is None
    assert "left missing as asked" in report.kill_switch


def test_a_dry_run_creates_no_kill_switch(store: SQLiteStore, tmp_path: Path) -> None:
    report = migrate(store, actor="me", backup_dir=tmp_path, dry_run=True)
    assert store.read_document(DocumentName.KILL_SWITCH) is None
    assert report.kill_switch == "no kill switch record: the migration would create it, released"


def test_an_entry_without_configuration_is_left_alone_and_reported(
    store: SQLiteStore, tmp_path: Path
) -> None:
    report = migrate(store, actor="me", backup_dir=tmp_path)
    assert load_document(store).body["llm"][3] == {"provider": "ollama"}
    assert "ollama:?\n  skipped: it has no configuration object" in "\n".join(report.diff_lines())


def test_it_is_idempotent(store: SQLiteStore, tmp_path: Path) -> None:
    migrate(store, actor="me", backup_dir=tmp_path)
    revision = load_document(store).revision
    again = migrate(store, actor="me", backup_dir=tmp_path)
    assert not again.changes
    assert load_document(store).revision == revision
    assert len(store.list_audit(action="config.migrate", target="aiconfigs")) == 1


def test_it_writes_an_owner_only_backup_of_the_document_first(
    store: SQLiteStore, tmp_path: Path
) -> None:
    report = migrate(store, actor="me", backup_dir=tmp_path)
    assert report.backup_path is not None
    assert json.loads(report.backup_path.read_text()) == BODY
    assert stat.S_IMODE(report.backup_path.stat().st_mode) == 0o600


def test_a_dry_run_shows_the_diff_and_writes_nothing(store: SQLiteStore, tmp_path: Path) -> None:
    before = store.read_document(DocumentName.AI_CONFIG)
    report = migrate(store, actor="me", backup_dir=tmp_path, dry_run=True)
    assert store.read_document(DocumentName.AI_CONFIG) == before
    assert list(tmp_path.iterdir()) == []
    lines = report.diff_lines()
    assert lines[:3] == [
        "anthropic:claude-sonnet-4-5",
        "  + optimizationEnabled: false",
        "  + batchingEnabled: false",
    ]
    assert "  + cachingEnabled: true" not in lines[lines.index("openAI:gpt-4o") :][:10]


def test_it_is_audited_without_secrets(store: SQLiteStore, tmp_path: Path) -> None:
    migrate(store, actor="cli:me", backup_dir=tmp_path, reason="rollout")
    [record] = store.list_audit(action="config.migrate", target="aiconfigs")
    assert record.actor == "cli:me" and record.reason == "rollout"
    assert record.after["anthropic:claude-sonnet-4-5"] == DEFAULTS
    assert "sk-1" not in repr(record)


def test_reverse_removes_exactly_what_was_added(store: SQLiteStore, tmp_path: Path) -> None:
    migrate(store, actor="me", backup_dir=tmp_path)
    reverse_migration(store, actor="me", backup_dir=tmp_path)
    assert load_document(store).body == BODY


def test_reverse_keeps_a_flag_changed_since_and_says_so(store: SQLiteStore, tmp_path: Path) -> None:
    migrate(store, actor="me", backup_dir=tmp_path)
    document = load_document(store)
    entry = document.entry("anthropic:claude-sonnet-4-5")
    changed = {**(entry.configuration or {}), "batchTimeout": 90}
    store.write_document(
        DocumentName.AI_CONFIG,
        document.body_with_configuration(entry.key, changed),
        expected_revision=document.revision,
        audit=AuditEvent(actor="admin", action="config.update", target="x"),
    )
    report = reverse_migration(store, actor="me", backup_dir=tmp_path)
    assert configuration(store, "anthropic:claude-sonnet-4-5") == {
        "model": "claude-sonnet-4-5",
        "apiKey": "sk-1",
        "batchTimeout": 90,
    }
    assert "  = batchTimeout: kept, changed since the migration (now 90)" in report.diff_lines()


def test_reverse_dry_run_writes_nothing(store: SQLiteStore, tmp_path: Path) -> None:
    migrate(store, actor="me", backup_dir=tmp_path)
    before = store.read_document(DocumentName.AI_CONFIG)
    report = reverse_migration(store, actor="me", backup_dir=tmp_path, dry_run=True)
    assert report.changes
    assert store.read_document(DocumentName.AI_CONFIG) == before


def test_reverse_twice_is_harmless(store: SQLiteStore, tmp_path: Path) -> None:
    migrate(store, actor="me", backup_dir=tmp_path)
    reverse_migration(store, actor="me", backup_dir=tmp_path)
    assert not reverse_migration(store, actor="me", backup_dir=tmp_path).changes
    assert load_document(store).body == BODY


def test_migrating_without_a_document_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="no aiconfigs document"):
        migrate(SQLiteStore(":memory:"), actor="me", backup_dir=tmp_path)
