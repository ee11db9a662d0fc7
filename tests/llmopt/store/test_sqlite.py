"""What only the SQLite adapter does: its file, its schema, and how it fails."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llmopt.errors import StoreError
from llmopt.store import (
    AuditEvent,
    BatchRecord,
    CircuitRecord,
    DocumentName,
    IncidentRecord,
    PlannerState,
    PlanRecord,
    QualityAlert,
    QualityRollup,
    RouteStatsRollup,
    SQLiteStore,
    UsageRollup,
)
from llmopt.store._records import iso
from llmopt.store._sqlite import _MIGRATIONS, SCHEMA_VERSION

AUDIT = AuditEvent(actor="alice", action="config.update", target="ai_config")


def test_a_file_that_is_not_a_sqlite_database_is_a_store_error_on_open(tmp_path: Path) -> None:
    path = tmp_path / "not-a-database.sqlite3"
    path.write_bytes(b"this is a text file, not a database\n" * 200)

    with pytest.raises(StoreError, match="not a database"):
        SQLiteStore(path)


def test_a_file_in_a_missing_directory_is_a_store_error_on_open(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(tmp_path / "missing" / "store.sqlite3")


def test_a_document_row_holding_invalid_json_is_a_store_error_on_read(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SQLiteStore(path)
    store.write_document(DocumentName.AI_CONFIG, {"llm": []}, expected_revision=None, audit=AUDIT)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE documents SET body = '{\"llm\": [' WHERE name = 'ai_config'")
    raw.close()

    with pytest.raises(StoreError, match="not valid JSON") as raised:
        store.read_document(DocumentName.AI_CONFIG)

    assert '"llm"' not in str(raised.value)
    store.close()


def test_a_corrupt_batch_row_is_a_store_error_on_read(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SQLiteStore(path)
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO batches (id, status, entry_key, created_at, body) "
            "VALUES ('b1', 'pending', 'e', '2025', '{\"id\": \"b1\"}')"
        )
    raw.close()

    with pytest.raises(StoreError, match="corrupt"):
        store.get_batch("b1")
    store.close()


def test_reopening_a_file_keeps_its_data_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    first = SQLiteStore(path)
    written = first.write_document(
        DocumentName.KILL_SWITCH, {"engaged": True}, expected_revision=None, audit=AUDIT
    )
    first.close()

    second = SQLiteStore(path)

    assert second.read_document(DocumentName.KILL_SWITCH) == written
    assert len(second.list_audit()) == 1
    second.close()


def test_a_file_from_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.close()

    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(path)


def test_a_file_store_uses_write_ahead_logging(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    SQLiteStore(path).close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_a_closed_store_fails_with_store_error() -> None:
    store = SQLiteStore()
    store.close()

    with pytest.raises(StoreError):
        store.ping()
    with pytest.raises(StoreError):
        store.read_document(DocumentName.AI_CONFIG)


def test_a_revision_from_another_store_is_a_conflict_not_a_crash() -> None:
    store = SQLiteStore()
    store.write_document(DocumentName.MIGRATION, {}, expected_revision=None, audit=AUDIT)

    with pytest.raises(StoreError) as raised:
        store.write_document(DocumentName.MIGRATION, {}, expected_revision="_hV3tK--_", audit=AUDIT)

    assert type(raised.value).__name__ == "ConflictError"
    store.close()


@pytest.mark.parametrize("cursor", ["abc", "9" * 40, "²", "-1", "1 ", ""])
def test_an_audit_cursor_this_store_never_issued_is_a_value_error(cursor: str) -> None:
    store = SQLiteStore()

    with pytest.raises(ValueError, match="not an audit id"):
        store.list_audit(before_id=cursor)
    store.close()


def test_a_version_1_file_is_migrated_keeping_its_usage_and_gaining_hourly_rollups(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.executescript(_MIGRATIONS[0])
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version (version) VALUES (1)")
        raw.execute(
            "INSERT INTO usage (minute, entry_key, calls, cost_usd) "
            "VALUES ('2025-03-01T12:05:00.000000+00:00', 'e1', 3, 0.5)"
        )
    raw.close()
    noon = datetime(2025, 3, 1, 12, tzinfo=UTC)

    store = SQLiteStore(path)
    [minute] = store.usage(start=noon, end=noon + timedelta(hours=1))
    assert (minute.calls, minute.optimized_calls, minute.cost_usd) == (3, 0, 0.5)
    assert store.fold_usage(through=noon + timedelta(hours=1)) == 1
    assert store.usage_by_hour(start=noon, end=noon + timedelta(hours=1))[0].calls == 3
    store.close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    raw.close()


def test_a_version_2_file_is_migrated_moving_each_batch_requests_map_to_its_own_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.sqlite3"
    record = BatchRecord(
        id="b1",
        provider="anthropic",
        model="claude-sonnet-4-6",
        entry_key="e1",
        requests={"req-1": "f1", "req-2": "f2"},
        created_at=datetime(2025, 3, 1, 12, tzinfo=UTC),
    )
    with sqlite3.connect(path) as raw:
        for script in _MIGRATIONS[:2]:
            raw.executescript(script)
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version (version) VALUES (2)")
        # Version 2 kept the whole record, requests map included, in the body.
        raw.execute(
            "INSERT INTO batches (id, status, entry_key, created_at, body) "
            "VALUES ('b1', 'pending', 'e1', ?, ?)",
            (iso(record.created_at), record.model_dump_json()),
        )
    raw.close()

    store = SQLiteStore(path)
    assert store.get_batch("b1") == record
    [listed] = store.list_batches(with_requests=False)
    assert listed == record.model_copy(update={"requests": {}})
    store.close()

    with sqlite3.connect(path) as raw:
        body, requests = raw.execute("SELECT body, requests FROM batches").fetchone()
        assert "requests" not in json.loads(body)
        assert json.loads(requests) == record.requests
    raw.close()


def test_a_version_4_file_is_migrated_keeping_its_usage_and_gaining_waste_counters_and_plans(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v4.sqlite3"
    with sqlite3.connect(path) as raw:
        for script in _MIGRATIONS[:4]:
            raw.executescript(script)
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version (version) VALUES (4)")
        raw.execute(
            "INSERT INTO usage (minute, entry_key, calls, cost_usd, estimated_cached_tokens) "
            "VALUES ('2025-03-01T12:05:00.000000+00:00', 'e1', 3, 0.5, 2048)"
        )
        raw.execute(
            "INSERT INTO usage_hours (hour, entry_key, calls, cost_usd) "
            "VALUES ('2025-03-01T11:00:00.000000+00:00', 'e1', 2, 0.25)"
        )
        raw.execute(
            "INSERT INTO usage_fold (id, through) VALUES (1, '2025-03-01T12:00:00.000000+00:00')"
        )
    raw.close()
    eleven = datetime(2025, 3, 1, 11, tzinfo=UTC)
    noon = eleven + timedelta(hours=1)

    store = SQLiteStore(path)
    [old] = store.usage(start=noon, end=noon + timedelta(hours=1))
    assert (old.calls, old.estimated_cached_tokens, old.missed_read_tokens) == (3, 2048, 0)
    assert (old.write_cost_usd, old.unread_write_cost_usd, old.missed_read_cost_usd) == (0, 0, 0)
    store.add_usage(
        [
            UsageRollup(
                minute=noon + timedelta(minutes=5),
                entry_key="e1",
                calls=1,
                unread_write_tokens_5m=1_000,
                missed_read_tokens=400,
                write_cost_usd=0.0075,
                unread_write_cost_usd=0.00375,
                missed_read_cost_usd=0.00108,
            ),
            # Before the watermark: summed into the migrated hourly roll-up too.
            UsageRollup(minute=eleven, entry_key="e1", calls=1, unread_write_tokens_1h=50),
        ]
    )
    [total] = store.usage_summary(start=eleven, end=noon + timedelta(hours=1))
    assert (total.calls, total.unread_write_tokens_5m, total.unread_write_tokens_1h) == (
        7,
        1_000,
        50,
    )
    assert (total.missed_read_tokens, total.cost_usd) == (400, 0.75)
    assert total.write_cost_usd == 0.0075
    assert total.unread_write_cost_usd == 0.00375
    assert total.missed_read_cost_usd == 0.00108
    plan = PlanRecord(entry_key="e1", at=noon, decisions=("placed 1 breakpoint",))
    store.add_plans([plan])
    assert store.recent_plans("e1") == [plan]
    state = PlannerState(entry_key="e1", process="p", updated_at=noon, body={"counts": {}})
    store.put_planner_states([state])  # version 6
    assert store.planner_states(["e1"], since=noon) == [state]
    store.close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    raw.close()


def test_a_version_6_file_is_migrated_keeping_its_data_and_gaining_the_routers_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v6.sqlite3"
    noon = datetime(2025, 3, 1, 12, tzinfo=UTC)
    state = PlannerState(entry_key="e1", process="p", updated_at=noon, body={"counts": {}})
    with sqlite3.connect(path) as raw:
        for script in _MIGRATIONS[:6]:
            raw.executescript(script)
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version (version) VALUES (6)")
        raw.execute(
            "INSERT INTO usage (minute, entry_key, calls) "
            "VALUES ('2025-03-01T12:05:00.000000+00:00', 'e1', 3)"
        )
        raw.execute(
            "INSERT INTO planner_states (entry_key, process, updated_at, body) VALUES (?, ?, ?, ?)",
            ("e1", "p", iso(noon), state.model_dump_json()),
        )
    raw.close()

    store = SQLiteStore(path)
    assert [u.calls for u in store.usage(start=noon, end=noon + timedelta(hours=1))] == [3]
    assert store.planner_states(["e1"], since=noon) == [state]
    circuit = store.swap_circuit(CircuitRecord(entry_key="e1", updated_at=noon), expected_version=0)
    assert circuit is not None and store.circuits() == {"e1": circuit}
    store.add_incidents([IncidentRecord(at=noon, entry_key="e1", kind="failover")])
    assert [i.kind for i in store.list_incidents()] == ["failover"]
    spent = store.reserve_budget("b", noon, usd=1.0, tokens=10, limit_usd=2.0, limit_tokens=None)
    assert spent is not None and spent.usd == 1.0
    store.add_route_stats([RouteStatsRollup(minute=noon, entry_key="e1", calls=1)])
    assert [r.calls for r in store.route_stats(start=noon, end=noon + timedelta(minutes=1))] == [1]
    store.close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    raw.close()


def test_a_version_7_file_is_migrated_keeping_its_data_and_gaining_quality_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v7.sqlite3"
    noon = datetime(2025, 3, 1, 12, tzinfo=UTC)
    stats = RouteStatsRollup(minute=noon, entry_key="e1", calls=2)
    with sqlite3.connect(path) as raw:
        for script in _MIGRATIONS[:7]:
            raw.executescript(script)
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version (version) VALUES (7)")
        raw.execute(
            "INSERT INTO route_stats (minute, entry_key, body) VALUES (?, ?, ?)",
            (iso(noon), "e1", stats.model_dump_json()),
        )
    raw.close()

    store = SQLiteStore(path)
    assert store.route_stats(start=noon, end=noon + timedelta(minutes=1)) == [stats]
    store.add_quality([QualityRollup(minute=noon, entry_key="e1", model="m", count=1)])
    assert [q.count for q in store.quality_stats(start=noon, end=noon + timedelta(minutes=1))] == [
        1
    ]
    alert = QualityAlert(
        entry_key="e1",
        window_start=noon,
        at=noon,
        window_mean=0.4,
        baseline_mean=0.9,
        window_count=10,
        baseline_count=100,
        drop=0.2,
    )
    assert store.add_quality_alert(alert) is True
    assert store.list_quality_alerts() == [alert]
    store.close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    raw.close()
    assert SCHEMA_VERSION == 8
