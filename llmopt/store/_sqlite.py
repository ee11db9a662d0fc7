"""The embedded store: one SQLite file (or memory) for one machine and for tests."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from llmopt.errors import ConflictError, RecordNotFound, StoreError
from llmopt.store._records import (
    BATCHES_IN_FLIGHT,
    PLANNER_STATE_KEPT,
    RECENT_PLANS_KEPT,
    ROUTING_DECISIONS_KEPT,
    TERMINAL_BATCH_STATUSES,
    USAGE_COUNTERS,
    AuditEvent,
    AuditMatch,
    AuditRecord,
    BatchRecord,
    BatchStatus,
    BudgetAlert,
    BudgetSpend,
    CircuitRecord,
    Document,
    DocumentName,
    IncidentRecord,
    PlannerState,
    PlanRecord,
    QualityAlert,
    QualityRollup,
    RouteStatsRollup,
    RoutingDecisionRecord,
    StoredResult,
    UsageBucket,
    UsageRollup,
    as_utc,
    batch_fields_as_json,
    checked_budget_amounts,
    decoding,
    hour_of,
    hour_range,
    iso,
    utcnow,
    without_system_attributes,
)

SCHEMA_VERSION = 8

_AUDIT_ID = re.compile(r"[0-9]{1,18}")

# The usage counters' columns spelled out per version: the migrations must create the
# same schema whatever fields UsageRollup has today.
_V1_USAGE_COLUMNS = """
        calls INTEGER NOT NULL DEFAULT 0,
        batched_calls INTEGER NOT NULL DEFAULT 0,
        fallbacks INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        baseline_cost_usd REAL NOT NULL DEFAULT 0,
        unpriced_calls INTEGER NOT NULL DEFAULT 0"""
_V2_USAGE_COLUMNS = (
    _V1_USAGE_COLUMNS
    + """,
        optimized_calls INTEGER NOT NULL DEFAULT 0"""
)

# _MIGRATIONS[n] takes the schema from version n to n + 1; append, never edit.
_MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE documents (
        name TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        version INTEGER NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE INDEX audit_target ON audit (target, id);
    CREATE INDEX audit_action ON audit (action, id);
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        ended_at TEXT,
        body TEXT NOT NULL
    );
    CREATE INDEX batches_created ON batches (created_at, id);
    CREATE INDEX batches_status ON batches (status, created_at);
    CREATE INDEX batches_entry ON batches (entry_key, created_at);
    CREATE TABLE usage (
        minute TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        {_V1_USAGE_COLUMNS},
        PRIMARY KEY (minute, entry_key)
    ) WITHOUT ROWID;
    CREATE INDEX usage_entry ON usage (entry_key, minute);
    CREATE TABLE results (
        fingerprint TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX results_expires ON results (expires_at);
    """,
    # 2: optimized_calls; hourly roll-ups and the watermark below which minutes are folded.
    f"""
    ALTER TABLE usage ADD COLUMN optimized_calls INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE usage_hours (
        hour TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        {_V2_USAGE_COLUMNS},
        PRIMARY KEY (hour, entry_key)
    ) WITHOUT ROWID;
    CREATE INDEX usage_hours_entry ON usage_hours (entry_key, hour);
    CREATE TABLE usage_fold (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        through TEXT NOT NULL
    );
    """,
    # 3: a batch's requests map (up to 100,000 fingerprints) in a column of its own, so
    # listing batches never reads it; an index for the Batches page's entry + status filter.
    """
    ALTER TABLE batches ADD COLUMN requests TEXT NOT NULL DEFAULT '{}';
    UPDATE batches SET
        requests = COALESCE(json_extract(body, '$.requests'), '{}'),
        body = json_remove(body, '$.requests');
    CREATE INDEX batches_entry_status ON batches (entry_key, status, created_at);
    """,
    # 4: what the cache planner saw (the migration guide's get_cache_stats fields).
    """
    ALTER TABLE usage ADD COLUMN content_blocks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN cached_blocks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN estimated_input_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN estimated_cached_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN content_blocks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN cached_blocks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN estimated_input_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN estimated_cached_tokens INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: what caching wasted (writes that expired unread, reads missed) and what the
    # writes cost; each entry's recent cache plans, for its page.
    """
    ALTER TABLE usage ADD COLUMN unread_write_tokens_5m INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN unread_write_tokens_1h INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN missed_read_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN write_cost_usd REAL NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN unread_write_cost_usd REAL NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN missed_read_cost_usd REAL NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN unread_write_tokens_5m INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN unread_write_tokens_1h INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN missed_read_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN write_cost_usd REAL NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN unread_write_cost_usd REAL NOT NULL DEFAULT 0;
    ALTER TABLE usage_hours ADD COLUMN missed_read_cost_usd REAL NOT NULL DEFAULT 0;
    CREATE TABLE plans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entry_key TEXT NOT NULL,
        at TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX plans_entry ON plans (entry_key, at, id);
    """,
    # 6: what each process's cache planner has learned, shared with the others.
    """
    CREATE TABLE planner_states (
        entry_key TEXT NOT NULL,
        process TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (entry_key, process)
    );
    """,
    # 7: the router's circuits, incidents, budget spend and alerts, recent decisions and
    # per-minute route statistics.
    """
    CREATE TABLE circuits (
        entry_key TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX incidents_at ON incidents (at);
    CREATE INDEX incidents_entry ON incidents (entry_key, id);
    CREATE TABLE budget_spend (
        budget TEXT NOT NULL,
        period_start TEXT NOT NULL,
        usd REAL NOT NULL,
        tokens INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (budget, period_start)
    ) WITHOUT ROWID;
    CREATE INDEX budget_spend_period ON budget_spend (period_start);
    CREATE TABLE budget_alerts (
        budget TEXT NOT NULL,
        period_start TEXT NOT NULL,
        threshold INTEGER NOT NULL,
        at TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (budget, period_start, threshold)
    );
    CREATE INDEX budget_alerts_at ON budget_alerts (at);
    CREATE TABLE routing_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX routing_decisions_at ON routing_decisions (at, id);
    CREATE INDEX routing_decisions_entry ON routing_decisions (entry_key, at, id);
    CREATE TABLE route_stats (
        minute TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (minute, entry_key)
    ) WITHOUT ROWID;
    CREATE INDEX route_stats_entry ON route_stats (entry_key, minute);
    """,
    # 8: the answers' per-minute quality roll-ups and degradation alerts.
    """
    CREATE TABLE quality (
        minute TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        model TEXT NOT NULL,
        test TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (minute, entry_key, model, test)
    ) WITHOUT ROWID;
    CREATE INDEX quality_entry ON quality (entry_key, minute);
    CREATE TABLE quality_alerts (
        entry_key TEXT NOT NULL,
        model TEXT NOT NULL,
        window_start TEXT NOT NULL,
        at TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (entry_key, model, window_start)
    );
    CREATE INDEX quality_alerts_at ON quality_alerts (at);
    """,
)
assert len(_MIGRATIONS) == SCHEMA_VERSION

_COUNTERS = ", ".join(USAGE_COUNTERS)
_PLACEHOLDERS = ", ".join("?" for _ in USAGE_COUNTERS)
_SUMS_ON_CONFLICT = ", ".join(f"{name} = {name} + excluded.{name}" for name in USAGE_COUNTERS)
_USAGE_UPSERT = (
    f"INSERT INTO usage (minute, entry_key, {_COUNTERS}) VALUES (?, ?, {_PLACEHOLDERS}) "
    f"ON CONFLICT (minute, entry_key) DO UPDATE SET {_SUMS_ON_CONFLICT}"
)
_HOUR_UPSERT = (
    f"INSERT INTO usage_hours (hour, entry_key, {_COUNTERS}) VALUES (?, ?, {_PLACEHOLDERS}) "
    f"ON CONFLICT (hour, entry_key) DO UPDATE SET {_SUMS_ON_CONFLICT}"
)
# Stored minutes are fixed-width ISO text, so an hour's key is a prefix plus a constant.
_HOUR_OF_MINUTE = "substr(minute, 1, 13) || ':00:00.000000+00:00'"
_SUMMED = ", ".join(f"SUM({name})" for name in USAGE_COUNTERS)
# A bucket's start from an hour's fixed-width ISO key (see _HOUR_OF_MINUTE).
_BUCKET_OF_HOUR: dict[str, str] = {
    "hour": "hour",
    "day": "substr(hour, 1, 10) || 'T00:00:00.000000+00:00'",
}
# No watermark reads as '', which sorts before every stored time: nothing is folded.
_WATERMARK = "COALESCE((SELECT through FROM usage_fold), '')"


def _hourly_view(
    start: datetime, end: datetime, entry_key: str | None
) -> tuple[str, str, dict[str, Any]]:
    """The hourly view's two conditions for ``[start, end)``, and their parameters.

    ``folded`` picks the hours of ``usage_hours`` below the watermark, ``unfolded`` the
    minutes of ``usage`` at or above it (still to be summed per hour); both read the
    watermark as ``w.through``. Raises ``ValueError`` when a bound is not a whole hour.
    """
    first, last = hour_range(start, end)
    entry_filter = "" if entry_key is None else " AND entry_key = :entry_key"
    folded = f"hour >= :start AND hour < :end AND hour < w.through{entry_filter}"
    unfolded = f"minute >= :start AND minute < :end AND minute >= w.through{entry_filter}"
    return folded, unfolded, {"start": first, "end": last, "entry_key": entry_key}


def _merged_route_stats(
    rollups: Iterable[RouteStatsRollup],
) -> dict[tuple[str, str], RouteStatsRollup]:
    """``rollups`` summed per stored minute and entry, in the order first given."""
    merged: dict[tuple[str, str], RouteStatsRollup] = {}
    for rollup in rollups:
        at = (iso(rollup.minute), rollup.entry_key)
        merged[at] = merged[at] + rollup if at in merged else rollup
    return merged


def _merged_quality(
    rollups: Iterable[QualityRollup],
) -> dict[tuple[str, str, str, str], QualityRollup]:
    """``rollups`` summed per stored minute, entry, model and test, in the order first given."""
    merged: dict[tuple[str, str, str, str], QualityRollup] = {}
    for rollup in rollups:
        at = (iso(rollup.minute), rollup.entry_key, rollup.model, rollup.test)
        merged[at] = merged[at] + rollup if at in merged else rollup
    return merged


def _hour_key(minute: str) -> str:
    return minute[:13] + ":00:00.000000+00:00"


def _rollups(rows: Iterable[tuple[Any, ...]]) -> list[UsageRollup]:
    columns = ("minute", "entry_key", *USAGE_COUNTERS)
    with decoding("usage roll-up"):
        return [UsageRollup.model_validate(dict(zip(columns, r, strict=True))) for r in rows]


def _batch(body: str, requests: str | None) -> BatchRecord:
    """A stored batch from its body and, unless ``None``, its requests column."""
    with decoding("batch"):
        if requests is None:
            return BatchRecord.model_validate_json(body)
        # Splice the map back into the body's JSON object: one parse and validation,
        # not a dict round trip of up to 100,000 entries. A body is never "{}" (it
        # holds at least the id), so the comma is always right.
        return BatchRecord.model_validate_json(f'{body[:-1]},"requests":{requests}}}')


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _create_owner_only(path: str) -> None:
    # The store holds provider API keys: a new file is the owner's alone (sqlite3 would
    # create it 0644), and SQLite gives the -wal and -shm files the same mode. An
    # existing file keeps the mode it has.
    if path not in ("", ":memory:") and not path.startswith("file:"):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _row_id(cursor: str, what: str) -> int:
    """A paging cursor as the row id it names; ``ValueError`` for anything else."""
    # ASCII digits only, and few enough for SQLite's 64-bit INTEGER: str.isdigit() also
    # accepts "²", and a longer number overflowed (a 500 from a bad cursor).
    if not _AUDIT_ID.fullmatch(cursor):
        raise ValueError(f"{cursor!r} is not {what} of this store")
    return int(cursor)


class SQLiteStore:
    """The ``Store`` on SQLite: the default for one machine, and the store tests use.

    ``path`` is a file (created with its schema if missing; WAL mode, so several
    processes may share it) or ``":memory:"`` (one private database, shared by the
    threads that use this object). ``clock`` stamps audit records; inject one in
    tests.

    Raises ``StoreError`` when the file cannot be opened, is not a SQLite database,
    or was written by a newer schema version.
    """

    @property
    def path(self) -> str:
        """The database file (``":memory:"`` for a private in-memory one)."""
        return self._path

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._path = os.fspath(path)
        self._clock = clock
        # One connection, serialised by this lock: ":memory:" databases are
        # per-connection, and sqlite3 connections must not be used concurrently.
        self._lock = threading.RLock()
        try:
            _create_owner_only(self._path)
            # timeout is SQLite's busy timeout: how long a writer waits for another
            # process's write lock before giving up.
            self._conn = sqlite3.connect(
                self._path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open SQLite store {self._path!r}: {exc}") from exc
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"

    # -- plumbing ---------------------------------------------------------------

    def _prepare(self) -> None:
        # SQLite's own lower() folds ASCII only; a filter must find "Ågot" as "ågot".
        self._conn.create_function("py_lower", 1, _lower, deterministic=True)
        if self._path != ":memory:":
            with self._wrapped(f"open SQLite store {self._path!r}"):
                self._conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL is durable across application crashes in WAL mode.
                self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._transaction(f"create the schema of {self._path!r}") as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = 0 if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"SQLite store {self._path!r} has schema version {version}, newer than "
                    f"this llmopt understands ({SCHEMA_VERSION}); upgrade llmopt"
                )
            for script in _MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version < SCHEMA_VERSION:
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    @contextmanager
    def _wrapped(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(f"cannot {what}: {exc}") from exc

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy
        # timeout), so read-check-write sequences are atomic across processes.
        with self._wrapped(what) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _insert_audit(self, conn: sqlite3.Connection, event: AuditEvent) -> AuditRecord:
        data = event.model_dump(mode="json")
        at = self._now()
        cursor = conn.execute(
            "INSERT INTO audit (at, actor, action, target, before, after, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                iso(at),
                event.actor,
                event.action,
                event.target,
                _dumps(data["before"]),
                _dumps(data["after"]),
                event.reason,
            ),
        )
        return AuditRecord(**data, id=str(cursor.lastrowid), at=at)

    # -- documents --------------------------------------------------------------

    def read_document(self, name: DocumentName) -> Document | None:
        """See ``Store.read_document``."""
        with self._wrapped(f"read document {name}") as conn:
            row = conn.execute(
                "SELECT body, version FROM documents WHERE name = ?", (name.value,)
            ).fetchone()
        if row is None:
            return None
        try:
            body = json.loads(row[0])
        except ValueError as exc:
            raise StoreError(f"stored document {name} is not valid JSON") from exc
        if not isinstance(body, dict):
            raise StoreError(f"stored document {name} is not a JSON object")
        return Document(body=body, revision=str(row[1]))

    def write_document(
        self,
        name: DocumentName,
        body: Mapping[str, Any],
        *,
        expected_revision: str | None,
        audit: AuditEvent,
    ) -> Document:
        """See ``Store.write_document``."""
        clean = without_system_attributes(body)
        text = _dumps(clean)
        with self._transaction(f"write document {name}") as conn:
            row = conn.execute(
                "SELECT version FROM documents WHERE name = ?", (name.value,)
            ).fetchone()
            current = None if row is None else str(row[0])
            if expected_revision is None:
                if current is not None:
                    raise ConflictError(
                        f"document {name} already exists (revision {current}); "
                        "read it and replace it instead",
                        current_revision=current,
                    )
                version = 1
                conn.execute(
                    "INSERT INTO documents (name, body, version) VALUES (?, ?, ?)",
                    (name.value, text, version),
                )
            else:
                if current is None:
                    raise ConflictError(f"document {name} does not exist (any more)")
                if current != expected_revision:
                    raise ConflictError(
                        f"document {name} was changed by someone else (revision "
                        f"{current}, not {expected_revision}); re-read and retry",
                        current_revision=current,
                    )
                version = int(current) + 1
                cursor = conn.execute(
                    "UPDATE documents SET body = ?, version = ? WHERE name = ? AND version = ?",
                    (text, version, name.value, int(current)),
                )
                if cursor.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; be safe
                    raise ConflictError(f"document {name} changed while writing it")
            self._insert_audit(conn, audit)
        return Document(body=clean, revision=str(version))

    # -- audit ------------------------------------------------------------------

    def record_audit(self, event: AuditEvent) -> AuditRecord:
        """See ``Store.record_audit``."""
        with self._transaction("record an audit event") as conn:
            return self._insert_audit(conn, event)

    def list_audit(
        self,
        *,
        limit: int = 100,
        before_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        match: AuditMatch = "exact",
    ) -> list[AuditRecord]:
        """See ``Store.list_audit``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        where: list[str] = []
        params: list[Any] = []
        if before_id is not None:
            where.append("id < ?")
            params.append(_row_id(before_id, "an audit id"))
        if action is not None:
            where.append("action = ?")
            params.append(action)
        for column, value in (("actor", actor), ("target", target)):
            if value is None:
                continue
            if match == "contains":
                # instr, not LIKE: a % or _ in the filter is plain text.
                where.append(f"instr(py_lower({column}), ?) > 0")
                params.append(value.lower())
            else:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(iso(since))
        sql = "SELECT id, at, actor, action, target, before, after, reason FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._wrapped("list the audit log") as conn:
            rows = conn.execute(sql, params).fetchall()
        with decoding("audit record"):
            return [
                AuditRecord(
                    id=str(r[0]),
                    at=r[1],
                    actor=r[2],
                    action=r[3],
                    target=r[4],
                    before=json.loads(r[5]),
                    after=json.loads(r[6]),
                    reason=r[7],
                )
                for r in rows
            ]

    # -- batches ----------------------------------------------------------------

    @staticmethod
    def _batch_row(record: BatchRecord) -> tuple[str, str, str, str, str | None, str, str]:
        return (
            record.id,
            record.status.value,
            record.entry_key,
            iso(record.created_at),
            None if record.ended_at is None else iso(record.ended_at),
            record.model_dump_json(exclude={"requests"}),
            _dumps(record.requests),
        )

    def _insert_batch_row(self, conn: sqlite3.Connection, record: BatchRecord) -> None:
        try:
            conn.execute(
                "INSERT INTO batches "
                "(id, status, entry_key, created_at, ended_at, body, requests) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                self._batch_row(record),
            )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"batch {record.id!r} is already recorded") from exc

    def insert_batch(self, record: BatchRecord) -> None:
        """See ``Store.insert_batch``."""
        with self._transaction(f"insert batch {record.id!r}") as conn:
            self._insert_batch_row(conn, record)

    def insert_batch_unless_held(self, record: BatchRecord) -> dict[str, str]:
        """See ``Store.insert_batch_unless_held``."""
        in_flight = [status.value for status in BATCHES_IN_FLIGHT]
        # BEGIN IMMEDIATE: the write lock is taken before the read, so no other
        # process can record a batch between the check and the insert.
        with self._transaction(f"insert batch {record.id!r}") as conn:
            held: dict[str, str] = {}
            rows = conn.execute(
                "SELECT id, requests FROM batches WHERE entry_key = ? "
                f"AND status IN ({', '.join('?' for _ in in_flight)}) ORDER BY rowid",
                (record.entry_key, *in_flight),
            )
            wanted: set[str] | None = None  # built only when some batch is in flight
            for batch_id, requests in rows:
                if wanted is None:
                    wanted = set(record.requests.values())
                with decoding("batch"):
                    fingerprints = json.loads(requests).values()
                for fingerprint in wanted.intersection(fingerprints):
                    held.setdefault(fingerprint, batch_id)
            if held:
                return held
            self._insert_batch_row(conn, record)
        return {}

    @staticmethod
    def _batch_columns(conn: sqlite3.Connection, batch_id: str) -> tuple[str, str]:
        """A stored batch's body and requests columns; ``RecordNotFound`` if there is none."""
        row = conn.execute(
            "SELECT body, requests FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
        if row is None:
            raise RecordNotFound(f"no batch {batch_id!r} in the store")
        return row[0], row[1]

    def get_batch(self, batch_id: str) -> BatchRecord:
        """See ``Store.get_batch``."""
        with self._wrapped(f"read batch {batch_id!r}") as conn:
            body, requests = self._batch_columns(conn, batch_id)
        return _batch(body, requests)

    def update_batch(
        self,
        batch_id: str,
        changes: Mapping[str, Any],
        *,
        expect: Mapping[str, Any] | None = None,
    ) -> BatchRecord | None:
        """See ``Store.update_batch``."""
        new_values = batch_fields_as_json(dict(changes), what="changes")
        expected = batch_fields_as_json(dict(expect or {}), what="expect")
        with self._transaction(f"update batch {batch_id!r}") as conn:
            body, requests = self._batch_columns(conn, batch_id)
            with decoding("batch"):
                current = {**json.loads(body), "requests": json.loads(requests)}
                if any(current.get(name) != value for name, value in expected.items()):
                    return None
                updated = BatchRecord.model_validate({**current, **new_values})
            _, status, entry_key, created_at, ended_at, body, requests = self._batch_row(updated)
            conn.execute(
                "UPDATE batches SET status = ?, entry_key = ?, created_at = ?, ended_at = ?, "
                "body = ?, requests = ? WHERE id = ?",
                (status, entry_key, created_at, ended_at, body, requests, batch_id),
            )
        return updated

    def list_batches(
        self,
        *,
        statuses: Collection[BatchStatus] | None = None,
        entry_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
        with_requests: bool = True,
    ) -> list[BatchRecord]:
        """See ``Store.list_batches``."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        filtered = self._batch_filter(statuses, entry_key)
        if filtered is None:
            return []
        where, params = filtered
        # Choose the page on the indexed columns alone, then read only its rows: SQLite
        # would otherwise load every row it sorts or skips over (OFFSET). Without
        # requests, the big column is never read at all.
        requests = "b.requests" if with_requests else "NULL"
        sql = (
            f"WITH page AS (SELECT rowid AS r, created_at, id FROM batches{where} "
            "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?) "
            f"SELECT b.body, {requests} FROM page JOIN batches AS b ON b.rowid = page.r "
            "ORDER BY page.created_at DESC, page.id DESC"
        )
        with self._wrapped("list batches") as conn:
            rows = conn.execute(sql, [*params, limit, offset]).fetchall()
        return [_batch(body, requests) for body, requests in rows]

    def count_batches(
        self,
        *,
        statuses: Collection[BatchStatus] | None = None,
        entry_key: str | None = None,
    ) -> int:
        """See ``Store.count_batches``."""
        filtered = self._batch_filter(statuses, entry_key)
        if filtered is None:
            return 0
        where, params = filtered
        with self._wrapped("count batches") as conn:
            (count,) = conn.execute(f"SELECT COUNT(*) FROM batches{where}", params).fetchone()
        return int(count)

    @staticmethod
    def _batch_filter(
        statuses: Collection[BatchStatus] | None, entry_key: str | None
    ) -> tuple[str, list[Any]] | None:
        """The WHERE clause and its parameters, or ``None`` when nothing can match."""
        where: list[str] = []
        params: list[Any] = []
        if statuses is not None:
            wanted = [BatchStatus(s).value for s in statuses]
            if not wanted:
                return None
            where.append(f"status IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if entry_key is not None:
            where.append("entry_key = ?")
            params.append(entry_key)
        return (" WHERE " + " AND ".join(where) if where else ""), params

    # -- usage ------------------------------------------------------------------

    def add_usage(self, rollups: Iterable[UsageRollup]) -> None:
        """See ``Store.add_usage``."""
        rows = [
            (iso(r.minute), r.entry_key, *(getattr(r, name) for name in USAGE_COUNTERS))
            for r in rollups
        ]
        if not rows:
            return
        with self._transaction("add usage") as conn:
            conn.executemany(_USAGE_UPSERT, rows)
            watermark = self._watermark(conn)
            late = [(_hour_key(minute), *rest) for minute, *rest in rows if minute < watermark]
            if late:
                conn.executemany(_HOUR_UPSERT, late)

    @staticmethod
    def _watermark(conn: sqlite3.Connection) -> str:
        return str(conn.execute(f"SELECT {_WATERMARK}").fetchone()[0])

    def usage(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[UsageRollup]:
        """See ``Store.usage``."""
        columns = ("minute", "entry_key", *USAGE_COUNTERS)
        sql = f"SELECT {', '.join(columns)} FROM usage WHERE minute >= ? AND minute < ?"
        params: list[Any] = [iso(start), iso(end)]
        if entry_key is not None:
            sql += " AND entry_key = ?"
            params.append(entry_key)
        sql += " ORDER BY minute, entry_key"
        with self._wrapped("read usage") as conn:
            rows = conn.execute(sql, params).fetchall()
        return _rollups(rows)

    def usage_by_hour(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[UsageRollup]:
        """See ``Store.usage_by_hour``."""
        folded, unfolded, params = _hourly_view(start, end, entry_key)
        # One statement reads the watermark and both tables: a consistent snapshot
        # even while a fold commits in another process.
        sql = (
            f"WITH w(through) AS (SELECT {_WATERMARK}) "
            f"SELECT hour, entry_key, {_COUNTERS} FROM usage_hours, w WHERE {folded} "
            "UNION ALL "
            f"SELECT {_HOUR_OF_MINUTE}, entry_key, {_SUMMED} FROM usage, w WHERE {unfolded} "
            "GROUP BY 1, 2 "
            "ORDER BY 1, 2"
        )
        with self._wrapped("read usage by hour") as conn:
            rows = conn.execute(sql, params).fetchall()
        return _rollups(rows)

    def usage_summary(
        self,
        *,
        start: datetime,
        end: datetime,
        bucket: UsageBucket | None = None,
        by_entry: bool = False,
        entry_key: str | None = None,
    ) -> list[UsageRollup]:
        """See ``Store.usage_summary``."""
        if bucket is not None and bucket not in _BUCKET_OF_HOUR:
            raise ValueError(f"bucket must be 'hour', 'day' or None, not {bucket!r}")
        folded, unfolded, params = _hourly_view(start, end, entry_key)
        at = ":start" if bucket is None else _BUCKET_OF_HOUR[bucket]
        entry = "entry_key" if by_entry else "''"
        # The hourly view of usage_by_hour, summed again in SQLite: the caller gets the
        # few rows it shows instead of one per hour and entry.
        sql = (
            f"WITH w(through) AS (SELECT {_WATERMARK}), "
            f"hours(hour, entry_key, {_COUNTERS}) AS ("
            f"SELECT hour, entry_key, {_COUNTERS} FROM usage_hours, w WHERE {folded} "
            "UNION ALL "
            f"SELECT {_HOUR_OF_MINUTE}, entry_key, {_COUNTERS} FROM usage, w WHERE {unfolded}) "
            f"SELECT {at}, {entry}, {_SUMMED} FROM hours GROUP BY 1, 2 ORDER BY 1, 2"
        )
        with self._wrapped("summarise usage") as conn:
            rows = conn.execute(sql, params).fetchall()
        return _rollups(rows)

    def fold_usage(self, *, through: datetime) -> int:
        """See ``Store.fold_usage``."""
        new = iso(hour_of(through))
        with self._transaction("fold usage into hours") as conn:
            old = self._watermark(conn)
            if new <= old:
                return 0
            conn.execute("DELETE FROM usage_hours WHERE hour >= ? AND hour < ?", (old, new))
            written = conn.execute(
                f"INSERT INTO usage_hours (hour, entry_key, {_COUNTERS}) "
                f"SELECT {_HOUR_OF_MINUTE}, entry_key, {_SUMMED} FROM usage "
                "WHERE minute >= ? AND minute < ? GROUP BY 1, 2",
                (old, new),
            ).rowcount
            conn.execute(
                "INSERT INTO usage_fold (id, through) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET through = excluded.through",
                (new,),
            )
        return written

    # -- plans ------------------------------------------------------------------

    def add_plans(self, plans: Iterable[PlanRecord], *, keep: int = RECENT_PLANS_KEPT) -> None:
        """See ``Store.add_plans``."""
        if keep < 1:
            raise ValueError("keep must be at least 1")
        rows = [(p.entry_key, iso(p.at), p.model_dump_json()) for p in plans]
        if not rows:
            return
        with self._transaction("record cache plans") as conn:
            conn.executemany("INSERT INTO plans (entry_key, at, body) VALUES (?, ?, ?)", rows)
            for entry_key in {entry_key for entry_key, _, _ in rows}:
                conn.execute(
                    "DELETE FROM plans WHERE entry_key = ? AND id NOT IN ("
                    "SELECT id FROM plans WHERE entry_key = ? ORDER BY at DESC, id DESC LIMIT ?)",
                    (entry_key, entry_key, keep),
                )

    def recent_plans(self, entry_key: str, *, limit: int = 10) -> list[PlanRecord]:
        """See ``Store.recent_plans``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        with self._wrapped(f"read the cache plans of {entry_key!r}") as conn:
            rows = conn.execute(
                "SELECT body FROM plans WHERE entry_key = ? ORDER BY at DESC, id DESC LIMIT ?",
                (entry_key, limit),
            ).fetchall()
        with decoding("cache plan"):
            return [PlanRecord.model_validate_json(body) for (body,) in rows]

    # -- planner states ---------------------------------------------------------

    def put_planner_states(self, states: Iterable[PlannerState]) -> None:
        """See ``Store.put_planner_states``."""
        given = list(states)
        rows = [(s.entry_key, s.process, iso(s.updated_at), s.model_dump_json()) for s in given]
        if not rows:
            return
        stale = iso(max(state.updated_at for state in given) - PLANNER_STATE_KEPT)
        with self._transaction("share the cache planners' states") as conn:
            conn.executemany(
                "INSERT INTO planner_states (entry_key, process, updated_at, body) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (entry_key, process) DO UPDATE SET "
                "updated_at = excluded.updated_at, body = excluded.body",
                rows,
            )
            conn.executemany(
                "DELETE FROM planner_states WHERE entry_key = ? AND updated_at < ?",
                [(entry_key, stale) for entry_key in {row[0] for row in rows}],
            )

    def planner_states(self, entry_keys: Collection[str], *, since: datetime) -> list[PlannerState]:
        """See ``Store.planner_states``."""
        keys = sorted(set(entry_keys))
        if not keys:
            return []
        marks = ", ".join("?" for _ in keys)
        with self._wrapped("read the cache planners' states") as conn:
            rows = conn.execute(
                f"SELECT body FROM planner_states WHERE entry_key IN ({marks}) "
                "AND updated_at >= ? ORDER BY entry_key, process",
                (*keys, iso(since)),
            ).fetchall()
        with decoding("planner state"):
            return [PlannerState.model_validate_json(body) for (body,) in rows]

    # -- circuits ---------------------------------------------------------------

    def circuits(self, entry_keys: Collection[str] | None = None) -> dict[str, CircuitRecord]:
        """See ``Store.circuits``."""
        sql = "SELECT body FROM circuits"
        params: list[Any] = []
        if entry_keys is not None:
            keys = sorted(set(entry_keys))
            if not keys:
                return {}
            sql += f" WHERE entry_key IN ({', '.join('?' for _ in keys)})"
            params.extend(keys)
        with self._wrapped("read the circuits") as conn:
            rows = conn.execute(sql + " ORDER BY entry_key", params).fetchall()
        with decoding("circuit"):
            records = [CircuitRecord.model_validate_json(body) for (body,) in rows]
        return {record.entry_key: record for record in records}

    def swap_circuit(self, record: CircuitRecord, *, expected_version: int) -> CircuitRecord | None:
        """See ``Store.swap_circuit``."""
        if expected_version < 0:
            raise ValueError("expected_version must not be negative")
        stored = record.model_copy(update={"version": expected_version + 1})
        body = stored.model_dump_json()
        with self._transaction(f"swap the circuit of {record.entry_key!r}") as conn:
            row = conn.execute(
                "SELECT version FROM circuits WHERE entry_key = ?", (record.entry_key,)
            ).fetchone()
            current = 0 if row is None else int(row[0])
            if current != expected_version:
                return None
            conn.execute(
                "INSERT INTO circuits (entry_key, version, body) VALUES (?, ?, ?) "
                "ON CONFLICT (entry_key) DO UPDATE SET "
                "version = excluded.version, body = excluded.body",
                (record.entry_key, stored.version, body),
            )
        return stored

    # -- incidents --------------------------------------------------------------

    def add_incidents(self, records: Iterable[IncidentRecord]) -> None:
        """See ``Store.add_incidents``."""
        ordered = sorted(records, key=lambda r: r.at)
        rows = [
            (iso(r.at), r.entry_key, r.kind, r.model_dump_json(exclude={"id"})) for r in ordered
        ]
        if not rows:
            return
        with self._transaction("record incidents") as conn:
            conn.executemany(
                "INSERT INTO incidents (at, entry_key, kind, body) VALUES (?, ?, ?, ?)", rows
            )

    def list_incidents(
        self,
        *,
        entry_key: str | None = None,
        kinds: Collection[str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_id: str | None = None,
    ) -> list[IncidentRecord]:
        """See ``Store.list_incidents``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        where: list[str] = []
        params: list[Any] = []
        if before_id is not None:
            where.append("id < ?")
            params.append(_row_id(before_id, "an incident id"))
        if entry_key is not None:
            where.append("entry_key = ?")
            params.append(entry_key)
        if kinds is not None:
            wanted = sorted(set(kinds))
            if not wanted:
                return []
            where.append(f"kind IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if since is not None:
            where.append("at >= ?")
            params.append(iso(since))
        sql = "SELECT id, body FROM incidents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._wrapped("list incidents") as conn:
            rows = conn.execute(sql, params).fetchall()
        with decoding("incident"):
            return [
                IncidentRecord.model_validate_json(body).model_copy(update={"id": str(row_id)})
                for row_id, body in rows
            ]

    def incident_counts(
        self, *, since: datetime, entry_key: str | None = None
    ) -> dict[tuple[str, str], int]:
        """See ``Store.incident_counts``."""
        sql = "SELECT entry_key, kind, COUNT(*) FROM incidents WHERE at >= ?"
        params: list[Any] = [iso(since)]
        if entry_key is not None:
            sql += " AND entry_key = ?"
            params.append(entry_key)
        with self._wrapped("count incidents") as conn:
            rows = conn.execute(sql + " GROUP BY entry_key, kind", params).fetchall()
        return {(str(entry), str(kind)): int(count) for entry, kind, count in rows}

    # -- budgets ----------------------------------------------------------------

    def reserve_budget(
        self,
        budget: str,
        period_start: datetime,
        *,
        usd: float,
        tokens: int,
        limit_usd: float | None,
        limit_tokens: int | None,
    ) -> BudgetSpend | None:
        """See ``Store.reserve_budget``."""
        checked_budget_amounts(usd, tokens, reserving=True)
        period = iso(period_start)
        # BEGIN IMMEDIATE: no other process can change the totals between check and add.
        with self._transaction(f"reserve from budget {budget!r}") as conn:
            row = conn.execute(
                "SELECT usd, tokens FROM budget_spend WHERE budget = ? AND period_start = ?",
                (budget, period),
            ).fetchone()
            spent_usd, spent_tokens = (0.0, 0) if row is None else (float(row[0]), int(row[1]))
            if (limit_usd is not None and spent_usd >= limit_usd) or (
                limit_tokens is not None and spent_tokens >= limit_tokens
            ):
                return None
            return self._add_spend(conn, budget, period, usd, tokens)

    def charge_budget(
        self, budget: str, period_start: datetime, *, usd: float, tokens: int
    ) -> BudgetSpend:
        """See ``Store.charge_budget``."""
        checked_budget_amounts(usd, tokens, reserving=False)
        with self._transaction(f"charge budget {budget!r}") as conn:
            return self._add_spend(conn, budget, iso(period_start), usd, tokens)

    def _add_spend(
        self, conn: sqlite3.Connection, budget: str, period: str, usd: float, tokens: int
    ) -> BudgetSpend:
        conn.execute(
            "INSERT INTO budget_spend (budget, period_start, usd, tokens, updated_at) "
            "VALUES (?, ?, MAX(0, ?), MAX(0, ?), ?) "
            "ON CONFLICT (budget, period_start) DO UPDATE SET "
            "usd = MAX(0, usd + ?), tokens = MAX(0, tokens + ?), updated_at = excluded.updated_at",
            (budget, period, usd, tokens, iso(self._now()), usd, tokens),
        )
        row = conn.execute(
            "SELECT usd, tokens, updated_at FROM budget_spend "
            "WHERE budget = ? AND period_start = ?",
            (budget, period),
        ).fetchone()
        with decoding("budget spend"):
            return BudgetSpend(
                budget=budget, period_start=period, usd=row[0], tokens=row[1], updated_at=row[2]
            )

    def budget_spend(
        self, keys: Iterable[tuple[str, datetime]]
    ) -> dict[tuple[str, datetime], BudgetSpend]:
        """See ``Store.budget_spend``."""
        wanted = sorted({(budget, iso(period_start)) for budget, period_start in keys})
        if not wanted:
            return {}
        spends: dict[tuple[str, datetime], BudgetSpend] = {}
        with self._wrapped("read budget spend") as conn:
            for budget, period in wanted:
                row = conn.execute(
                    "SELECT usd, tokens, updated_at FROM budget_spend "
                    "WHERE budget = ? AND period_start = ?",
                    (budget, period),
                ).fetchone()
                if row is None:
                    continue
                with decoding("budget spend"):
                    spend = BudgetSpend(
                        budget=budget,
                        period_start=period,
                        usd=row[0],
                        tokens=row[1],
                        updated_at=row[2],
                    )
                spends[(budget, spend.period_start)] = spend
        return spends

    def add_budget_alert(self, alert: BudgetAlert) -> bool:
        """See ``Store.add_budget_alert``."""
        with self._transaction(f"record an alert of budget {alert.budget!r}") as conn:
            cursor = conn.execute(
                "INSERT INTO budget_alerts (budget, period_start, threshold, at, body) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (budget, period_start, threshold) DO NOTHING",
                (
                    alert.budget,
                    iso(alert.period_start),
                    alert.threshold,
                    iso(alert.at),
                    alert.model_dump_json(),
                ),
            )
            return cursor.rowcount == 1

    def list_budget_alerts(
        self, *, budget: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[BudgetAlert]:
        """See ``Store.list_budget_alerts``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        where: list[str] = []
        params: list[Any] = []
        if budget is not None:
            where.append("budget = ?")
            params.append(budget)
        if since is not None:
            where.append("at >= ?")
            params.append(iso(since))
        sql = "SELECT body FROM budget_alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, threshold DESC, budget, period_start DESC LIMIT ?"
        params.append(limit)
        with self._wrapped("list budget alerts") as conn:
            rows = conn.execute(sql, params).fetchall()
        with decoding("budget alert"):
            return [BudgetAlert.model_validate_json(body) for (body,) in rows]

    # -- routing decisions ------------------------------------------------------

    def add_routing_decisions(
        self, records: Iterable[RoutingDecisionRecord], *, keep: int = ROUTING_DECISIONS_KEPT
    ) -> None:
        """See ``Store.add_routing_decisions``."""
        if keep < 1:
            raise ValueError("keep must be at least 1")
        rows = [(iso(r.at), r.entry_key, r.model_dump_json(exclude={"id"})) for r in records]
        if not rows:
            return
        with self._transaction("record routing decisions") as conn:
            conn.executemany(
                "INSERT INTO routing_decisions (at, entry_key, body) VALUES (?, ?, ?)", rows
            )
            conn.execute(
                "DELETE FROM routing_decisions WHERE id NOT IN ("
                "SELECT id FROM routing_decisions ORDER BY at DESC, id DESC LIMIT ?)",
                (keep,),
            )

    def recent_routing_decisions(
        self, *, limit: int = 50, entry_key: str | None = None
    ) -> list[RoutingDecisionRecord]:
        """See ``Store.recent_routing_decisions``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        sql = "SELECT id, body FROM routing_decisions"
        params: list[Any] = []
        if entry_key is not None:
            sql += " WHERE entry_key = ?"
            params.append(entry_key)
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._wrapped("read the routing decisions") as conn:
            rows = conn.execute(sql, params).fetchall()
        with decoding("routing decision"):
            return [
                RoutingDecisionRecord.model_validate_json(body).model_copy(
                    update={"id": str(row_id)}
                )
                for row_id, body in rows
            ]

    # -- route statistics -------------------------------------------------------

    def add_route_stats(self, rollups: Iterable[RouteStatsRollup]) -> None:
        """See ``Store.add_route_stats``."""
        merged = _merged_route_stats(rollups)
        if not merged:
            return
        with self._transaction("add route statistics") as conn:
            for (minute, entry_key), rollup in merged.items():
                row = conn.execute(
                    "SELECT body FROM route_stats WHERE minute = ? AND entry_key = ?",
                    (minute, entry_key),
                ).fetchone()
                total = rollup
                if row is not None:
                    with decoding("route statistics"):
                        total = RouteStatsRollup.model_validate_json(row[0]) + rollup
                conn.execute(
                    "INSERT INTO route_stats (minute, entry_key, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (minute, entry_key) DO UPDATE SET body = excluded.body",
                    (minute, entry_key, total.model_dump_json()),
                )

    def route_stats(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[RouteStatsRollup]:
        """See ``Store.route_stats``."""
        sql = "SELECT body FROM route_stats WHERE minute >= ? AND minute < ?"
        params: list[Any] = [iso(start), iso(end)]
        if entry_key is not None:
            sql += " AND entry_key = ?"
            params.append(entry_key)
        with self._wrapped("read route statistics") as conn:
            rows = conn.execute(sql + " ORDER BY minute, entry_key", params).fetchall()
        with decoding("route statistics"):
            return [RouteStatsRollup.model_validate_json(body) for (body,) in rows]

    # -- quality ----------------------------------------------------------------

    def add_quality(self, rollups: Iterable[QualityRollup]) -> None:
        """See ``Store.add_quality``."""
        merged = _merged_quality(rollups)
        if not merged:
            return
        with self._transaction("add quality roll-ups") as conn:
            for key, rollup in merged.items():
                row = conn.execute(
                    "SELECT body FROM quality "
                    "WHERE minute = ? AND entry_key = ? AND model = ? AND test = ?",
                    key,
                ).fetchone()
                total = rollup
                if row is not None:
                    with decoding("quality roll-up"):
                        stored = QualityRollup.model_validate_json(row[0])
                    # Outside decoding: a sum that overflows is the caller's error.
                    total = stored + rollup
                conn.execute(
                    "INSERT INTO quality (minute, entry_key, model, test, body) "
                    "VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (minute, entry_key, model, test) "
                    "DO UPDATE SET body = excluded.body",
                    (*key, total.model_dump_json()),
                )

    def quality_stats(
        self,
        *,
        start: datetime,
        end: datetime,
        entry_key: str | None = None,
        test: str | None = None,
    ) -> list[QualityRollup]:
        """See ``Store.quality_stats``."""
        sql = "SELECT body FROM quality WHERE minute >= ? AND minute < ?"
        params: list[Any] = [iso(start), iso(end)]
        if entry_key is not None:
            sql += " AND entry_key = ?"
            params.append(entry_key)
        if test is not None:
            sql += " AND test = ?"
            params.append(test)
        with self._wrapped("read quality roll-ups") as conn:
            rows = conn.execute(sql + " ORDER BY minute, entry_key, model, test", params).fetchall()
        with decoding("quality roll-up"):
            return [QualityRollup.model_validate_json(body) for (body,) in rows]

    def add_quality_alert(self, alert: QualityAlert) -> bool:
        """See ``Store.add_quality_alert``."""
        with self._transaction(f"record a quality alert of entry {alert.entry_key!r}") as conn:
            cursor = conn.execute(
                "INSERT INTO quality_alerts (entry_key, model, window_start, at, body) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (entry_key, model, window_start) DO NOTHING",
                (
                    alert.entry_key,
                    alert.model,
                    iso(alert.window_start),
                    iso(alert.at),
                    alert.model_dump_json(),
                ),
            )
            return cursor.rowcount == 1

    def list_quality_alerts(
        self, *, entry_key: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[QualityAlert]:
        """See ``Store.list_quality_alerts``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        where: list[str] = []
        params: list[Any] = []
        if entry_key is not None:
            where.append("entry_key = ?")
            params.append(entry_key)
        if since is not None:
            where.append("at >= ?")
            params.append(iso(since))
        sql = "SELECT body FROM quality_alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, entry_key, model, window_start DESC LIMIT ?"
        params.append(limit)
        with self._wrapped("list quality alerts") as conn:
            rows = conn.execute(sql, params).fetchall()
        with decoding("quality alert"):
            return [QualityAlert.model_validate_json(body) for (body,) in rows]

    # -- results ----------------------------------------------------------------

    def put_result(self, result: StoredResult) -> None:
        """See ``Store.put_result``."""
        with self._transaction(f"store result {result.fingerprint!r}") as conn:
            conn.execute(
                "INSERT INTO results (fingerprint, expires_at, body) VALUES (?, ?, ?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET "
                "expires_at = excluded.expires_at, body = excluded.body",
                (result.fingerprint, iso(result.expires_at), result.model_dump_json()),
            )

    def get_result(self, fingerprint: str, *, now: datetime) -> StoredResult | None:
        """See ``Store.get_result``."""
        with self._wrapped(f"read result {fingerprint!r}") as conn:
            row = conn.execute(
                "SELECT body FROM results WHERE fingerprint = ? AND expires_at > ?",
                (fingerprint, iso(now)),
            ).fetchone()
        if row is None:
            return None
        with decoding("result"):
            return StoredResult.model_validate_json(row[0])

    # -- maintenance ------------------------------------------------------------

    def prune(
        self,
        *,
        usage_before: datetime | None = None,
        usage_hours_before: datetime | None = None,
        audit_before: datetime | None = None,
        batches_ended_before: datetime | None = None,
        results_expired_by: datetime | None = None,
        incidents_before: datetime | None = None,
        route_stats_before: datetime | None = None,
        budget_alerts_before: datetime | None = None,
        budget_spend_before: datetime | None = None,
        quality_before: datetime | None = None,
        quality_alerts_before: datetime | None = None,
    ) -> dict[str, int]:
        """See ``Store.prune``."""
        terminal = sorted(s.value for s in TERMINAL_BATCH_STATUSES)
        deletes: dict[str, tuple[str, tuple[Any, ...]] | None] = {
            "usage": None
            if usage_before is None
            # Unfolded minutes exist nowhere else: never delete them.
            else (
                f"DELETE FROM usage WHERE minute < ? AND minute < {_WATERMARK}",
                (iso(usage_before),),
            ),
            "usage_hours": None
            if usage_hours_before is None
            else ("DELETE FROM usage_hours WHERE hour < ?", (iso(usage_hours_before),)),
            "audit": None
            if audit_before is None
            else ("DELETE FROM audit WHERE at < ?", (iso(audit_before),)),
            "batches": None
            if batches_ended_before is None
            else (
                "DELETE FROM batches WHERE COALESCE(ended_at, created_at) < ? "
                f"AND status IN ({', '.join('?' for _ in terminal)})",
                (iso(batches_ended_before), *terminal),
            ),
            "results": None
            if results_expired_by is None
            else ("DELETE FROM results WHERE expires_at <= ?", (iso(results_expired_by),)),
            "incidents": None
            if incidents_before is None
            else ("DELETE FROM incidents WHERE at < ?", (iso(incidents_before),)),
            "route_stats": None
            if route_stats_before is None
            else ("DELETE FROM route_stats WHERE minute < ?", (iso(route_stats_before),)),
            "budget_alerts": None
            if budget_alerts_before is None
            else ("DELETE FROM budget_alerts WHERE at < ?", (iso(budget_alerts_before),)),
            "budget_spend": None
            if budget_spend_before is None
            else (
                "DELETE FROM budget_spend WHERE period_start < ?",
                (iso(budget_spend_before),),
            ),
            "quality": None
            if quality_before is None
            else ("DELETE FROM quality WHERE minute < ?", (iso(quality_before),)),
            "quality_alerts": None
            if quality_alerts_before is None
            else ("DELETE FROM quality_alerts WHERE at < ?", (iso(quality_alerts_before),)),
        }
        counts = dict.fromkeys(deletes, 0)
        if not any(deletes.values()):
            return counts
        with self._transaction("prune old records") as conn:
            for kind, delete in deletes.items():
                if delete is not None:
                    counts[kind] = conn.execute(*delete).rowcount
        return counts

    def ping(self) -> None:
        """See ``Store.ping``."""
        with self._wrapped(f"reach SQLite store {self._path!r}") as conn:
            conn.execute("SELECT 1 FROM schema_version").fetchone()

    def close(self) -> None:
        """See ``Store.close``."""
        with self._wrapped(f"close SQLite store {self._path!r}") as conn:
            conn.close()


def _lower(value: str | None) -> str | None:
    return None if value is None else str(value).lower()
