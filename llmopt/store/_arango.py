"""The production store: ArangoDB through python-arango.

python-arango is the core's ``arango`` extra; this module is imported only when an
``ArangoStore`` is asked for (``llmopt.store`` loads it on first access).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel

try:
    from arango.client import ArangoClient
    from arango.cursor import Cursor
    from arango.database import Database, StandardDatabase, TransactionDatabase
    from arango.exceptions import ArangoError, ArangoServerError
    from arango.http import DefaultHTTPClient
except ModuleNotFoundError as exc:
    if exc.name != "arango":
        raise
    from llmopt.store._open import DRIVER_MISSING

    raise ModuleNotFoundError(DRIVER_MISSING, name="arango") from exc

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

_T = TypeVar("_T")
_Model = TypeVar("_Model", bound=BaseModel)
_Summed = TypeVar("_Summed", RouteStatsRollup, QualityRollup)

# ArangoDB error numbers this adapter gives a meaning to.
_CONFLICT = 1200  # stale _rev, or a write-write conflict between transactions
_DOCUMENT_NOT_FOUND = 1202
_DUPLICATE_NAME = 1207
_UNIQUE_VIOLATED = 1210
_RETRIES = 5

_AI_CONFIG_KEY = "ai_models_config"
_FOLD_KEY = "usage_fold"  # in the state collection: {through: <the watermark>}

# Stored minutes are fixed-width ISO text, so an hour's key is a prefix plus a constant.
_HOUR_OF = 'CONCAT(SUBSTRING({0}.minute, 0, 13), ":00:00.000000+00:00")'
_AGGREGATE = ", ".join(f"{name} = SUM(u.{name})" for name in USAGE_COUNTERS)
# A bucket's start from an hourly roll-up's minute (fixed-width ISO text).
_BUCKET_OF_HOUR: dict[str, str] = {
    "hour": "u.minute",
    "day": 'CONCAT(SUBSTRING(u.minute, 0, 10), "T00:00:00.000000+00:00")',
}
_COLLECTED = ", ".join(f"{name}" for name in USAGE_COUNTERS)


def _key(value: str) -> str:
    # Ids, entry keys and fingerprints may hold characters _key forbids.
    return hashlib.sha256(value.encode()).hexdigest()


def _usage_key(minute: datetime, entry_key: str) -> str:
    return f"{minute:%Y%m%d%H%M}-{_key(entry_key)}"


@dataclass(frozen=True, slots=True)
class ArangoCollections:
    """The collection names an ``ArangoStore`` uses; the defaults are production's.

    ``aiconfigs`` is the existing configuration collection; the others are
    llmopt's own and are created on open when missing.
    """

    aiconfigs: str = "aiconfigs"
    state: str = "llmopt_state"
    audit: str = "llmopt_audit"
    batches: str = "llmopt_batches"
    usage: str = "llmopt_usage"
    usage_hours: str = "llmopt_usage_hours"
    results: str = "llmopt_results"
    plans: str = "llmopt_plans"
    planner_states: str = "llmopt_planner_states"
    circuits: str = "llmopt_circuits"
    incidents: str = "llmopt_incidents"
    budget_spend: str = "llmopt_budget_spend"
    budget_alerts: str = "llmopt_budget_alerts"
    routing_decisions: str = "llmopt_routing_decisions"
    route_stats: str = "llmopt_route_stats"
    quality: str = "llmopt_quality"
    quality_alerts: str = "llmopt_quality_alerts"

    @classmethod
    def with_prefix(cls, prefix: str) -> ArangoCollections:
        """The default names, each prefixed: for tests or several stores in one database."""
        return cls(**{f.name: prefix + getattr(cls(), f.name) for f in fields(cls)})


class ArangoStore:
    """The ``Store`` on ArangoDB: production, shared by every process and machine.

    Build it with ``ArangoStore.connect`` (or ``store_from_env``), or around a
    ``StandardDatabase`` you already hold. Missing collections and indexes are
    created on open. ``clock`` stamps audit records; inject one in tests.

    Raises ``StoreError`` when the server cannot be reached or refuses a request.
    """

    def __init__(
        self,
        db: StandardDatabase,
        *,
        clock: Callable[[], datetime] = utcnow,
        collections: ArangoCollections = ArangoCollections(),  # noqa: B008 (frozen)
    ) -> None:
        self._db = db
        self._clock = clock
        self._names = collections
        self._client: ArangoClient | None = None
        self._documents: dict[DocumentName, tuple[str, str]] = {
            DocumentName.AI_CONFIG: (collections.aiconfigs, _AI_CONFIG_KEY),
            DocumentName.KILL_SWITCH: (collections.state, "kill_switch"),
            DocumentName.MIGRATION: (collections.state, "migration"),
        }
        self._ensure_schema()

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        database: str,
        username: str,
        password: str,
        verify: bool | str = True,
        request_timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        collections: ArangoCollections = ArangoCollections(),  # noqa: B008 (frozen)
    ) -> ArangoStore:
        """Connect to the server(s) at ``url`` (comma-separated for a cluster).

        ``verify`` checks the server's TLS certificate: ``True``, ``False``, or the
        path of a CA bundle. ``request_timeout`` bounds each HTTP request, in seconds.
        Raises ``StoreError`` if the server cannot be reached,
        the credentials are refused, or the database does not exist.
        """
        try:
            # One quick retry, not the driver's default of backing off for ~18 s:
            # callers (health checks, the watcher, Celery) have their own retry loops.
            http = DefaultHTTPClient(
                request_timeout=request_timeout, retry_attempts=1, backoff_factor=0.1
            )
            client = ArangoClient(
                hosts=url,
                verify_override=verify,
                request_timeout=request_timeout,
                http_client=http,
            )
        except (ArangoError, OSError, ValueError) as exc:
            raise StoreError(f"cannot use ArangoDB URL {url!r}: {exc}") from exc
        try:
            with _wrapped(f"connect to ArangoDB database {database!r} at {url}"):
                db = client.db(database, username=username, password=password, verify=True)
            store = cls(db, clock=clock, collections=collections)
        except BaseException:
            client.close()
            raise
        store._client = client
        return store

    def __repr__(self) -> str:
        return f"ArangoStore({self._db.name!r})"

    # -- plumbing ---------------------------------------------------------------

    def _ensure_schema(self) -> None:
        names = self._names
        all_names = [getattr(names, f.name) for f in fields(names)]
        generators = dict.fromkeys(all_names, "traditional")
        # Padded keys sort like their insertion order: the audit log's paging cursor.
        generators[names.audit] = "padded"
        generators[names.plans] = "padded"  # breaks ties between plans of the same instant
        generators[names.incidents] = "padded"  # the paging cursor, as for the audit log
        generators[names.routing_decisions] = "padded"
        indexes = {
            names.audit: [["at"], ["target"], ["action"]],
            names.batches: [["created_at"], ["status", "created_at"], ["entry_key", "created_at"]],
            names.usage: [["minute", "entry_key"], ["entry_key", "minute"]],
            names.usage_hours: [["minute", "entry_key"], ["entry_key", "minute"]],
            names.results: [["expires_at"]],
            names.plans: [["entry_key", "at"]],
            names.planner_states: [["entry_key", "updated_at"]],
            names.incidents: [["at"], ["entry_key"], ["kind"]],
            names.budget_spend: [["period_start"]],
            names.budget_alerts: [["at"], ["budget", "at"]],
            names.routing_decisions: [["at"], ["entry_key", "at"]],
            names.route_stats: [["minute", "entry_key"], ["entry_key", "minute"]],
            names.quality: [["minute", "entry_key"], ["entry_key", "minute"]],
            names.quality_alerts: [["at"], ["entry_key", "at"]],
        }
        with _wrapped(f"prepare the llmopt collections in ArangoDB database {self._db.name!r}"):
            for name, generator in generators.items():
                if self._db.has_collection(name):
                    continue
                try:
                    self._db.create_collection(name, key_generator=generator)
                except ArangoServerError as exc:
                    if exc.error_code != _DUPLICATE_NAME:  # another process won the race
                        raise
            for name, field_lists in indexes.items():
                for index_fields in field_lists:
                    # Idempotent: the server returns an existing identical index.
                    self._db.collection(name).add_index(
                        {"type": "persistent", "fields": index_fields}
                    )

    def _query(self, db: Database, aql: str, bind_vars: dict[str, Any]) -> Cursor:
        return cast(Cursor, db.aql.execute(aql, bind_vars=bind_vars))

    def _read(
        self, doing: str, aql: str, bind: dict[str, Any], model: type[_Model], stored: str
    ) -> list[_Model]:
        """The rows of a read-only query, each validated as ``model`` (a ``stored`` thing)."""
        with _wrapped(doing):
            rows = list(self._query(self._db, aql, bind))
        with decoding(stored):
            return [model.model_validate(row) for row in rows]

    def _retrying(self, run: Callable[[], _T]) -> _T:
        # A single AQL query is atomic and, on a conflict with a concurrent
        # writer, changes nothing: running it again is safe.
        for attempt in range(_RETRIES):
            try:
                return run()
            except ArangoServerError as exc:
                if exc.error_code not in (_CONFLICT, _UNIQUE_VIOLATED) or attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _audit_doc(self, event: AuditEvent) -> tuple[dict[str, Any], datetime]:
        at = as_utc(self._clock())
        return {**event.model_dump(mode="json"), "at": iso(at)}, at

    # -- documents --------------------------------------------------------------

    def read_document(self, name: DocumentName) -> Document | None:
        """See ``Store.read_document``."""
        collection, key = self._documents[name]
        with _wrapped(f"read document {name}"):
            doc = self._db.collection(collection).get(key)
        if doc is None:
            return None
        if not isinstance(doc, dict):
            raise StoreError(f"stored document {name} is not a valid JSON object")
        return Document(body=without_system_attributes(doc), revision=str(doc["_rev"]))

    def write_document(
        self,
        name: DocumentName,
        body: Mapping[str, Any],
        *,
        expected_revision: str | None,
        audit: AuditEvent,
    ) -> Document:
        """See ``Store.write_document``."""
        collection, key = self._documents[name]
        clean = without_system_attributes(body)
        audit_doc, _ = self._audit_doc(audit)
        with _wrapped(f"write document {name}"):
            txn = self._db.begin_transaction(write=[collection, self._names.audit])
            try:
                docs = txn.collection(collection)
                if expected_revision is None:
                    meta = docs.insert({**clean, "_key": key})
                else:
                    meta = docs.replace(
                        {**clean, "_key": key, "_rev": expected_revision}, check_rev=True
                    )
                txn.collection(self._names.audit).insert(audit_doc, silent=True)
                txn.commit_transaction()
            except BaseException as exc:
                _abort(txn)
                if isinstance(exc, ArangoServerError) and exc.error_code in (
                    _CONFLICT,
                    _DOCUMENT_NOT_FOUND,
                    _UNIQUE_VIOLATED,
                ):
                    raise self._conflict(name, expected_revision, exc.error_code) from exc
                raise
        return Document(body=clean, revision=str(cast(dict[str, Any], meta)["_rev"]))

    def _conflict(
        self, name: DocumentName, expected: str | None, error_code: int | None
    ) -> ConflictError:
        try:
            current = self.read_document(name)
        except StoreError:
            current = None
        revision = None if current is None else current.revision
        if error_code == _UNIQUE_VIOLATED or (expected is None and current is not None):
            message = f"document {name} already exists; read it and replace it instead"
        elif error_code == _DOCUMENT_NOT_FOUND:
            message = f"document {name} does not exist (any more)"
        else:
            message = f"document {name} was changed by someone else; re-read and retry"
        return ConflictError(message, current_revision=revision)

    # -- audit ------------------------------------------------------------------

    def record_audit(self, event: AuditEvent) -> AuditRecord:
        """See ``Store.record_audit``."""
        doc, at = self._audit_doc(event)
        with _wrapped("record an audit event"):
            meta = cast(dict[str, Any], self._db.collection(self._names.audit).insert(doc))
        return AuditRecord(**event.model_dump(mode="json"), id=str(meta["_key"]), at=at)

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
        filters = []
        bind: dict[str, Any] = {"@c": self._names.audit, "page_size": limit}
        if before_id is not None:
            filters.append("a._key < @before_key")
            bind["before_key"] = before_id
        if action is not None:
            filters.append("a.action == @action_value")
            bind["action_value"] = action
        for attribute, value in (("actor", actor), ("target", target)):
            if value is None:
                continue
            if match == "contains":
                filters.append(f"CONTAINS(LOWER(a.{attribute}), @{attribute}_value)")
                bind[f"{attribute}_value"] = value.lower()
            else:
                filters.append(f"a.{attribute} == @{attribute}_value")
                bind[f"{attribute}_value"] = value
        if since is not None:
            filters.append("a.at >= @since")
            bind["since"] = iso(since)
        aql = (
            "FOR a IN @@c "
            + "".join(f"FILTER {f} " for f in filters)
            + "SORT a._key DESC LIMIT @page_size "
            'RETURN MERGE(UNSET(a, "_key", "_id", "_rev"), {id: a._key})'
        )
        return self._read("list the audit log", aql, bind, AuditRecord, "audit record")

    # -- batches ----------------------------------------------------------------

    def insert_batch(self, record: BatchRecord) -> None:
        """See ``Store.insert_batch``."""
        doc = {**record.model_dump(mode="json"), "_key": _key(record.id)}
        with _wrapped(f"insert batch {record.id!r}"), _batch_id_taken(record.id):
            self._db.collection(self._names.batches).insert(doc, silent=True)

    def insert_batch_unless_held(self, record: BatchRecord) -> dict[str, str]:
        """See ``Store.insert_batch_unless_held``."""
        doc = {**record.model_dump(mode="json"), "_key": _key(record.id)}
        batches = self._names.batches
        with _wrapped(f"insert batch {record.id!r}"), _batch_id_taken(record.id):
            # Exclusive: no other writer may add a batch between the check and the insert.
            txn = self._db.begin_transaction(exclusive=[batches])
            try:
                cursor = self._query(
                    txn,
                    "FOR b IN @@c FILTER b.entry_key == @entry AND b.status IN @in_flight "
                    "SORT b.created_at "
                    "FOR fingerprint IN INTERSECTION(VALUES(b.requests), @wanted) "
                    "RETURN [fingerprint, b.id]",
                    {
                        "@c": batches,
                        "entry": record.entry_key,
                        "in_flight": sorted(status.value for status in BATCHES_IN_FLIGHT),
                        "wanted": sorted(set(record.requests.values())),
                    },
                )
                held: dict[str, str] = {}
                for fingerprint, batch_id in cursor:
                    held.setdefault(str(fingerprint), str(batch_id))
                if held:
                    txn.abort_transaction()
                    return held
                txn.collection(batches).insert(doc, silent=True)
                txn.commit_transaction()
            except BaseException:
                _abort(txn)
                raise
        return {}

    def get_batch(self, batch_id: str) -> BatchRecord:
        """See ``Store.get_batch``."""
        with _wrapped(f"read batch {batch_id!r}"):
            doc = self._db.collection(self._names.batches).get(_key(batch_id))
        if doc is None:
            raise RecordNotFound(f"no batch {batch_id!r} in the store")
        with decoding("batch"):
            return BatchRecord.model_validate(doc)

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
        bind: dict[str, Any] = {
            "@c": self._names.batches,
            "key": _key(batch_id),
            "changes": new_values,
        }
        filters = []
        for i, (field, value) in enumerate(expected.items()):
            filters.append(f"FILTER b[@f{i}] == @v{i} ")
            bind[f"f{i}"] = field
            bind[f"v{i}"] = value
        aql = (
            "FOR b IN @@c FILTER b._key == @key "
            + "".join(filters)
            # mergeObjects false: a changed request_counts replaces the old one.
            + "UPDATE b WITH @changes IN @@c OPTIONS {keepNull: true, mergeObjects: false} "
            "RETURN NEW"
        )
        with _wrapped(f"update batch {batch_id!r}"):
            rows = self._retrying(lambda: list(self._query(self._db, aql, bind)))
            if not rows:
                if not self._db.collection(self._names.batches).has(_key(batch_id)):
                    raise RecordNotFound(f"no batch {batch_id!r} in the store")
                return None
        with decoding("batch"):
            return BatchRecord.model_validate(rows[0])

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
        filters, bind = self._batch_filter(statuses, entry_key)
        bind.update({"page_size": limit, "skip": offset})
        result = "b" if with_requests else 'UNSET(b, "requests")'
        aql = (
            "FOR b IN @@c "
            + filters
            + f"SORT b.created_at DESC, b.id DESC LIMIT @skip, @page_size RETURN {result}"
        )
        return self._read("list batches", aql, bind, BatchRecord, "batch")

    def count_batches(
        self,
        *,
        statuses: Collection[BatchStatus] | None = None,
        entry_key: str | None = None,
    ) -> int:
        """See ``Store.count_batches``."""
        filters, bind = self._batch_filter(statuses, entry_key)
        aql = "FOR b IN @@c " + filters + "COLLECT WITH COUNT INTO n RETURN n"
        with _wrapped("count batches"):
            rows = list(self._query(self._db, aql, bind))
        return int(rows[0]) if rows else 0

    def _batch_filter(
        self, statuses: Collection[BatchStatus] | None, entry_key: str | None
    ) -> tuple[str, dict[str, Any]]:
        filters = ""
        bind: dict[str, Any] = {"@c": self._names.batches}
        if statuses is not None:
            filters += "FILTER b.status IN @statuses "
            bind["statuses"] = [BatchStatus(s).value for s in statuses]
        if entry_key is not None:
            filters += "FILTER b.entry_key == @entry_key "
            bind["entry_key"] = entry_key
        return filters, bind

    def add_usage(self, rollups: Iterable[UsageRollup]) -> None:
        """See ``Store.add_usage``."""
        merged: dict[tuple[datetime, str], UsageRollup] = {}
        for rollup in rollups:
            at = (rollup.minute, rollup.entry_key)
            merged[at] = merged[at] + rollup if at in merged else rollup
        if not merged:
            return
        rows = [
            {
                **r.model_dump(mode="json"),
                "_key": _usage_key(r.minute, r.entry_key),
                "hour": iso(hour_of(r.minute)),
                "hour_key": _usage_key(hour_of(r.minute), r.entry_key),
            }
            for r in merged.values()
        ]
        sums = ", ".join(f"{name}: OLD.{name} + r.{name}" for name in USAGE_COUNTERS)
        fields = ", ".join(f"{name}: r.{name}" for name in USAGE_COUNTERS)
        # One query is one transaction: every roll-up is added, to its minute and (if
        # that minute is folded already) to its hour, or none is.
        aql = (
            "LET through = NOT_NULL(DOCUMENT(@state_id).through, '') "
            "LET minutes = (FOR r IN @rows "
            f"UPSERT {{_key: r._key}} INSERT UNSET(r, 'hour', 'hour_key') "
            f"UPDATE {{{sums}}} IN @@c) "
            "FOR r IN @rows FILTER r.minute < through "
            "UPSERT {_key: r.hour_key} "
            f"INSERT {{_key: r.hour_key, minute: r.hour, entry_key: r.entry_key, {fields}}} "
            f"UPDATE {{{sums}}} IN @@hours"
        )
        bind = {
            "@c": self._names.usage,
            "@hours": self._names.usage_hours,
            "state_id": f"{self._names.state}/{_FOLD_KEY}",
            "rows": rows,
        }
        with _wrapped("add usage"):
            self._retrying(lambda: self._query(self._db, aql, bind))

    def usage(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[UsageRollup]:
        """See ``Store.usage``."""
        bind: dict[str, Any] = {"@c": self._names.usage, "start": iso(start), "end": iso(end)}
        aql = (
            "FOR u IN @@c FILTER u.minute >= @start AND u.minute < @end "
            + _entry_filter(bind, entry_key)
            + "SORT u.minute, u.entry_key RETURN u"
        )
        return self._read("read usage", aql, bind, UsageRollup, "usage roll-up")

    def usage_by_hour(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[UsageRollup]:
        """See ``Store.usage_by_hour``."""
        hourly, bind = self._hourly_view(start, end, entry_key)
        aql = f"{hourly}FOR r IN APPEND(folded, tail) SORT r.minute, r.entry_key RETURN r"
        return self._read("read usage by hour", aql, bind, UsageRollup, "usage roll-up")

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
        hourly, bind = self._hourly_view(start, end, entry_key)
        at = "@start" if bucket is None else _BUCKET_OF_HOUR[bucket]
        entry = "u.entry_key" if by_entry else '""'
        # The hourly view of usage_by_hour, collected again in the server: only the
        # summed rows travel.
        aql = (
            f"{hourly}FOR u IN APPEND(folded, tail) COLLECT minute = {at}, entry_key = {entry} "
            f"AGGREGATE {_AGGREGATE} SORT minute, entry_key "
            f"RETURN {{minute, entry_key, {_COLLECTED}}}"
        )
        return self._read("summarise usage", aql, bind, UsageRollup, "usage roll-up")

    def _hourly_view(
        self, start: datetime, end: datetime, entry_key: str | None
    ) -> tuple[str, dict[str, Any]]:
        """AQL setting ``folded`` and ``tail``, with its bind variables.

        ``folded`` holds the hourly roll-ups below the watermark, ``tail`` those above it,
        summed from the minutes. Raises ``ValueError`` when ``start`` or ``end`` is not the
        start of an hour.
        """
        first, last = hour_range(start, end)
        bind: dict[str, Any] = {
            "@c": self._names.usage,
            "@hours": self._names.usage_hours,
            "state_id": f"{self._names.state}/{_FOLD_KEY}",
            "start": first,
            "end": last,
        }
        entry_filter = _entry_filter(bind, entry_key)
        aql = (
            "LET through = NOT_NULL(DOCUMENT(@state_id).through, '') "
            "LET folded = (FOR u IN @@hours "
            "FILTER u.minute >= @start AND u.minute < @end AND u.minute < through "
            + entry_filter
            + "RETURN UNSET(u, '_key', '_id', '_rev')) "
            "LET tail = (FOR u IN @@c "
            "FILTER u.minute >= @start AND u.minute < @end AND u.minute >= through "
            + entry_filter
            + f"COLLECT minute = {_HOUR_OF.format('u')}, entry_key = u.entry_key "
            f"AGGREGATE {_AGGREGATE} "
            f"RETURN {{minute, entry_key, {_COLLECTED}}}) "
        )
        return aql, bind

    def fold_usage(self, *, through: datetime) -> int:
        """See ``Store.fold_usage``."""
        new = iso(hour_of(through))
        names = self._names
        with _wrapped("fold usage into hours"):
            # Exclusive: no add_usage may slip a minute in between reading the minutes
            # and moving the watermark past them.
            txn = self._db.begin_transaction(
                exclusive=[names.usage, names.usage_hours, names.state]
            )
            try:
                state = txn.collection(names.state).get(_FOLD_KEY)
                old = str(state["through"]) if isinstance(state, dict) else ""
                if new <= old:
                    txn.abort_transaction()
                    return 0
                bind: dict[str, Any] = {
                    "@c": names.usage,
                    "@hours": names.usage_hours,
                    "old": old,
                    "new": new,
                }
                self._query(
                    txn,
                    "FOR h IN @@hours FILTER h.minute >= @old AND h.minute < @new "
                    "REMOVE h IN @@hours",
                    {"@hours": names.usage_hours, "old": old, "new": new},
                )
                cursor = self._query(
                    txn,
                    "FOR u IN @@c FILTER u.minute >= @old AND u.minute < @new "
                    f"COLLECT minute = {_HOUR_OF.format('u')}, entry_key = u.entry_key "
                    f"AGGREGATE {_AGGREGATE} "
                    f"INSERT {{_key: CONCAT(SUBSTITUTE(SUBSTRING(minute, 0, 16), "
                    "['-', 'T', ':'], ''), '-', SHA256(entry_key)), "
                    f"minute, entry_key, {_COLLECTED}}} INTO @@hours",
                    bind,
                )
                written = int((cursor.statistics() or {}).get("modified", 0))
                txn.collection(names.state).insert(
                    {"_key": _FOLD_KEY, "through": new}, overwrite_mode="replace", silent=True
                )
                txn.commit_transaction()
            except BaseException:
                _abort(txn)
                raise
        return written

    # -- plans ------------------------------------------------------------------

    def add_plans(self, plans: Iterable[PlanRecord], *, keep: int = RECENT_PLANS_KEPT) -> None:
        """See ``Store.add_plans``."""
        if keep < 1:
            raise ValueError("keep must be at least 1")
        docs = [p.model_dump(mode="json") for p in plans]
        if not docs:
            return
        collection = self._names.plans
        entries = sorted({doc["entry_key"] for doc in docs})
        # Past each entry's newest `keep`, by time and then by (padded) key: recording order.
        trim = (
            "LET stale = FLATTEN(FOR e IN @entries RETURN ("
            "FOR p IN @@c FILTER p.entry_key == e SORT p.at DESC, p._key DESC "
            "LIMIT @keep, @all RETURN p._key)) "
            "FOR k IN stale REMOVE k IN @@c OPTIONS {ignoreErrors: true}"
        )

        def record() -> None:
            # One stream transaction, so the trim sees the new plans and a conflict with
            # another process's trim leaves nothing behind to be recorded twice on retry.
            txn = self._db.begin_transaction(write=[collection])
            try:
                self._query(
                    txn, "FOR p IN @plans INSERT p INTO @@c", {"@c": collection, "plans": docs}
                )
                self._query(
                    txn,
                    trim,
                    {"@c": collection, "entries": entries, "keep": keep, "all": 1_000_000_000},
                )
                txn.commit_transaction()
            except BaseException:
                _abort(txn)
                raise

        with _wrapped("record cache plans"):
            self._retrying(record)

    def recent_plans(self, entry_key: str, *, limit: int = 10) -> list[PlanRecord]:
        """See ``Store.recent_plans``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        aql = (
            "FOR p IN @@c FILTER p.entry_key == @entry_key SORT p.at DESC, p._key DESC "
            'LIMIT @n RETURN UNSET(p, "_key", "_id", "_rev")'
        )
        bind: dict[str, Any] = {"@c": self._names.plans, "entry_key": entry_key, "n": limit}
        return self._read(
            f"read the cache plans of {entry_key!r}", aql, bind, PlanRecord, "cache plan"
        )

    # -- planner states ---------------------------------------------------------

    def put_planner_states(self, states: Iterable[PlannerState]) -> None:
        """See ``Store.put_planner_states``."""
        given = list(states)
        if not given:
            return
        docs = [
            {**s.model_dump(mode="json"), "_key": _key(f"{s.entry_key}\x1f{s.process}")}
            for s in given
        ]
        stale = iso(max(state.updated_at for state in given) - PLANNER_STATE_KEPT)
        collection = self._names.planner_states

        def share() -> None:
            txn = self._db.begin_transaction(write=[collection])
            try:
                self._query(
                    txn,
                    "FOR s IN @states INSERT s INTO @@c OPTIONS {overwriteMode: 'replace'}",
                    {"@c": collection, "states": docs},
                )
                self._query(
                    txn,
                    "FOR s IN @@c FILTER s.entry_key IN @entries AND s.updated_at < @stale "
                    "REMOVE s IN @@c OPTIONS {ignoreErrors: true}",
                    {
                        "@c": collection,
                        "entries": sorted({d["entry_key"] for d in docs}),
                        "stale": stale,
                    },
                )
                txn.commit_transaction()
            except BaseException:
                _abort(txn)
                raise

        with _wrapped("share the cache planners' states"):
            self._retrying(share)

    def planner_states(self, entry_keys: Collection[str], *, since: datetime) -> list[PlannerState]:
        """See ``Store.planner_states``."""
        keys = sorted(set(entry_keys))
        if not keys:
            return []
        aql = (
            "FOR s IN @@c FILTER s.entry_key IN @keys AND s.updated_at >= @since "
            'SORT s.entry_key, s.process RETURN UNSET(s, "_key", "_id", "_rev")'
        )
        bind: dict[str, Any] = {"@c": self._names.planner_states, "keys": keys, "since": iso(since)}
        return self._read(
            "read the cache planners' states", aql, bind, PlannerState, "planner state"
        )

    # -- circuits ---------------------------------------------------------------

    def circuits(self, entry_keys: Collection[str] | None = None) -> dict[str, CircuitRecord]:
        """See ``Store.circuits``."""
        bind: dict[str, Any] = {"@c": self._names.circuits}
        filters = ""
        if entry_keys is not None:
            keys = sorted(set(entry_keys))
            if not keys:
                return {}
            filters = "FILTER c.entry_key IN @keys "
            bind["keys"] = keys
        aql = f'FOR c IN @@c {filters}SORT c.entry_key RETURN UNSET(c, "_key", "_id", "_rev")'
        records = self._read("read the circuits", aql, bind, CircuitRecord, "circuit")
        return {record.entry_key: record for record in records}

    def swap_circuit(self, record: CircuitRecord, *, expected_version: int) -> CircuitRecord | None:
        """See ``Store.swap_circuit``."""
        if expected_version < 0:
            raise ValueError("expected_version must not be negative")
        stored = record.model_copy(update={"version": expected_version + 1})
        key = _key(record.entry_key)
        doc = {**stored.model_dump(mode="json"), "_key": key}
        collection = self._names.circuits
        with _wrapped(f"swap the circuit of {record.entry_key!r}"):
            if expected_version == 0:
                try:
                    self._db.collection(collection).insert(doc, silent=True)
                except ArangoServerError as exc:
                    if exc.error_code == _UNIQUE_VIOLATED:  # another process stored one first
                        return None
                    raise
                return stored
            # One query: the version is checked and the record replaced atomically; on a
            # write-write conflict the retry finds the new version and writes nothing.
            aql = (
                "FOR c IN @@c FILTER c._key == @key AND c.version == @expected "
                "REPLACE c WITH @doc IN @@c RETURN NEW._key"
            )
            bind = {"@c": collection, "key": key, "expected": expected_version, "doc": doc}
            rows = self._retrying(lambda: list(self._query(self._db, aql, bind)))
        return stored if rows else None

    # -- incidents --------------------------------------------------------------

    def add_incidents(self, records: Iterable[IncidentRecord]) -> None:
        """See ``Store.add_incidents``."""
        docs = [
            r.model_dump(mode="json", exclude={"id"}) for r in sorted(records, key=lambda r: r.at)
        ]
        if not docs:
            return
        # One query is one transaction: all are recorded or none; padded keys follow the
        # order of the list.
        with _wrapped("record incidents"):
            self._query(
                self._db,
                "FOR r IN @rows INSERT r INTO @@c",
                {"@c": self._names.incidents, "rows": docs},
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
        filters = []
        bind: dict[str, Any] = {"@c": self._names.incidents, "page_size": limit}
        if before_id is not None:
            filters.append("i._key < @before_key")
            bind["before_key"] = before_id
        if entry_key is not None:
            filters.append("i.entry_key == @entry_key")
            bind["entry_key"] = entry_key
        if kinds is not None:
            wanted = sorted(set(kinds))
            if not wanted:
                return []
            filters.append("i.kind IN @kinds")
            bind["kinds"] = wanted
        if since is not None:
            filters.append("i.at >= @since")
            bind["since"] = iso(since)
        aql = (
            "FOR i IN @@c "
            + "".join(f"FILTER {f} " for f in filters)
            + "SORT i._key DESC LIMIT @page_size "
            'RETURN MERGE(UNSET(i, "_key", "_id", "_rev"), {id: i._key})'
        )
        return self._read("list incidents", aql, bind, IncidentRecord, "incident")

    def incident_counts(
        self, *, since: datetime, entry_key: str | None = None
    ) -> dict[tuple[str, str], int]:
        """See ``Store.incident_counts``."""
        bind: dict[str, Any] = {"@c": self._names.incidents, "since": iso(since)}
        entry_filter = ""
        if entry_key is not None:
            entry_filter = "FILTER i.entry_key == @entry_key "
            bind["entry_key"] = entry_key
        aql = (
            f"FOR i IN @@c FILTER i.at >= @since {entry_filter}"
            "COLLECT entry_key = i.entry_key, kind = i.kind WITH COUNT INTO n "
            "RETURN [entry_key, kind, n]"
        )
        with _wrapped("count incidents"):
            rows = list(self._query(self._db, aql, bind))
        return {(str(entry), str(kind)): int(n) for entry, kind, n in rows}

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
        # One query: the totals are read, checked and added to in one transaction; a
        # concurrent writer makes it fail with a conflict and run again, on new totals.
        check = (
            "LET spent = FIRST(FOR s IN @@c FILTER s._key == @key RETURN s) "
            "FOR admitted IN ("
            "(@limit_usd == null OR NOT_NULL(spent.usd, 0) < @limit_usd) AND "
            "(@limit_tokens == null OR NOT_NULL(spent.tokens, 0) < @limit_tokens)"
            " ? [true] : []) "
        )
        return self._add_spend(
            budget,
            period_start,
            usd,
            tokens,
            check=check,
            extra={"limit_usd": limit_usd, "limit_tokens": limit_tokens},
            doing=f"reserve from budget {budget!r}",
        )

    def charge_budget(
        self, budget: str, period_start: datetime, *, usd: float, tokens: int
    ) -> BudgetSpend:
        """See ``Store.charge_budget``."""
        checked_budget_amounts(usd, tokens, reserving=False)
        spend = self._add_spend(
            budget, period_start, usd, tokens, check="", extra={}, doing=f"charge budget {budget!r}"
        )
        if spend is None:  # pragma: no cover - an unconditional upsert returns its document
            raise StoreError(f"cannot charge budget {budget!r}: the store returned nothing")
        return spend

    def _add_spend(
        self,
        budget: str,
        period_start: datetime,
        usd: float,
        tokens: int,
        *,
        check: str,
        extra: dict[str, Any],
        doing: str,
    ) -> BudgetSpend | None:
        period = iso(period_start)
        aql = (
            check + "UPSERT {_key: @key} "
            "INSERT {_key: @key, budget: @budget, period_start: @period, "
            "usd: MAX([0, @usd]), tokens: MAX([0, @tokens]), updated_at: @now} "
            "UPDATE {usd: MAX([0, OLD.usd + @usd]), tokens: MAX([0, OLD.tokens + @tokens]), "
            "updated_at: @now} IN @@c "
            'RETURN UNSET(NEW, "_key", "_id", "_rev")'
        )
        key = _key(f"{budget}\x1f{period}")
        bind: dict[str, Any] = {
            "@c": self._names.budget_spend,
            "key": key,
            "budget": budget,
            "period": period,
            "usd": usd,
            "tokens": tokens,
            "now": iso(self._clock()),
            **extra,
        }
        with _wrapped(doing):
            rows = self._retrying(lambda: list(self._query(self._db, aql, bind)))
        if not rows:
            return None
        with decoding("budget spend"):
            return BudgetSpend.model_validate(rows[0])

    def budget_spend(
        self, keys: Iterable[tuple[str, datetime]]
    ) -> dict[tuple[str, datetime], BudgetSpend]:
        """See ``Store.budget_spend``."""
        wanted = sorted({_key(f"{budget}\x1f{iso(start)}") for budget, start in keys})
        if not wanted:
            return {}
        aql = 'FOR s IN @@c FILTER s._key IN @keys RETURN UNSET(s, "_key", "_id", "_rev")'
        bind: dict[str, Any] = {"@c": self._names.budget_spend, "keys": wanted}
        spends = self._read("read budget spend", aql, bind, BudgetSpend, "budget spend")
        return {(s.budget, s.period_start): s for s in spends}

    def add_budget_alert(self, alert: BudgetAlert) -> bool:
        """See ``Store.add_budget_alert``."""
        key = _key(f"{alert.budget}\x1f{iso(alert.period_start)}\x1f{alert.threshold}")
        doc = {**alert.model_dump(mode="json"), "_key": key}
        what = f"record an alert of budget {alert.budget!r}"
        return self._insert_once(self._names.budget_alerts, doc, what)

    def list_budget_alerts(
        self, *, budget: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[BudgetAlert]:
        """See ``Store.list_budget_alerts``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        filters = ""
        bind: dict[str, Any] = {"@c": self._names.budget_alerts, "page_size": limit}
        if budget is not None:
            filters += "FILTER a.budget == @budget "
            bind["budget"] = budget
        if since is not None:
            filters += "FILTER a.at >= @since "
            bind["since"] = iso(since)
        aql = (
            f"FOR a IN @@c {filters}"
            "SORT a.at DESC, a.threshold DESC, a.budget, a.period_start DESC "
            'LIMIT @page_size RETURN UNSET(a, "_key", "_id", "_rev")'
        )
        return self._read("list budget alerts", aql, bind, BudgetAlert, "budget alert")

    def _insert_once(self, collection: str, doc: dict[str, Any], what: str) -> bool:
        """Insert ``doc`` unless its ``_key`` is there; whether this call inserted it (an
        alert: exactly one process records and sends it)."""
        with _wrapped(what):
            try:
                self._db.collection(collection).insert(doc, silent=True)
            except ArangoServerError as exc:
                if exc.error_code == _UNIQUE_VIOLATED:  # another process was first
                    return False
                raise
        return True

    def _sum_into(
        self, collection: str, merged: Mapping[str, _Summed], model: type[_Summed], what: str
    ) -> None:
        """Add roll-ups (by ``_key``) to the stored ones with ``+``, all or none.

        Exclusive: the stored roll-ups are read, summed here and written back with no
        other writer in between. A stored one that cannot be read is a ``StoreError``;
        a sum that fails (an overflow) is the caller's ``ValueError``."""
        if not merged:
            return
        keys = sorted(merged)

        def add() -> None:
            txn = self._db.begin_transaction(exclusive=[collection])
            try:
                stored = self._query(
                    txn,
                    "FOR s IN @@c FILTER s._key IN @keys RETURN s",
                    {"@c": collection, "keys": keys},
                )
                totals = dict(merged)
                for doc in stored:
                    with decoding(what):
                        key = str(doc["_key"])
                        before = model.model_validate(doc)
                    totals[key] = before + merged[key]
                self._query(
                    txn,
                    "FOR d IN @docs INSERT d INTO @@c OPTIONS {overwriteMode: 'replace'}",
                    {
                        "@c": collection,
                        "docs": [
                            {**total.model_dump(mode="json"), "_key": key}
                            for key, total in totals.items()
                        ],
                    },
                )
                txn.commit_transaction()
            except BaseException:
                _abort(txn)
                raise

        with _wrapped(f"add {what}"):
            self._retrying(add)

    # -- routing decisions ------------------------------------------------------

    def add_routing_decisions(
        self, records: Iterable[RoutingDecisionRecord], *, keep: int = ROUTING_DECISIONS_KEPT
    ) -> None:
        """See ``Store.add_routing_decisions``."""
        if keep < 1:
            raise ValueError("keep must be at least 1")
        docs = [r.model_dump(mode="json", exclude={"id"}) for r in records]
        if not docs:
            return
        collection = self._names.routing_decisions

        def record() -> None:
            # As add_plans: one stream transaction, the trim in a second query so that
            # it sees the new decisions.
            txn = self._db.begin_transaction(write=[collection])
            try:
                self._query(
                    txn, "FOR d IN @rows INSERT d INTO @@c", {"@c": collection, "rows": docs}
                )
                self._query(
                    txn,
                    "FOR d IN @@c SORT d.at DESC, d._key DESC LIMIT @keep, @all "
                    "REMOVE d IN @@c OPTIONS {ignoreErrors: true}",
                    {"@c": collection, "keep": keep, "all": 1_000_000_000},
                )
                txn.commit_transaction()
            except BaseException:
                _abort(txn)
                raise

        with _wrapped("record routing decisions"):
            self._retrying(record)

    def recent_routing_decisions(
        self, *, limit: int = 50, entry_key: str | None = None
    ) -> list[RoutingDecisionRecord]:
        """See ``Store.recent_routing_decisions``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        bind: dict[str, Any] = {"@c": self._names.routing_decisions, "n": limit}
        entry_filter = ""
        if entry_key is not None:
            entry_filter = "FILTER d.entry_key == @entry_key "
            bind["entry_key"] = entry_key
        aql = (
            f"FOR d IN @@c {entry_filter}SORT d.at DESC, d._key DESC LIMIT @n "
            'RETURN MERGE(UNSET(d, "_key", "_id", "_rev"), {id: d._key})'
        )
        return self._read(
            "read the routing decisions", aql, bind, RoutingDecisionRecord, "routing decision"
        )

    # -- route statistics -------------------------------------------------------

    def add_route_stats(self, rollups: Iterable[RouteStatsRollup]) -> None:
        """See ``Store.add_route_stats``."""
        merged: dict[str, RouteStatsRollup] = {}
        for rollup in rollups:
            key = _usage_key(rollup.minute, rollup.entry_key)
            merged[key] = merged[key] + rollup if key in merged else rollup
        self._sum_into(self._names.route_stats, merged, RouteStatsRollup, "route statistics")

    def route_stats(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[RouteStatsRollup]:
        """See ``Store.route_stats``."""
        bind: dict[str, Any] = {"@c": self._names.route_stats, "start": iso(start), "end": iso(end)}
        aql = (
            "FOR u IN @@c FILTER u.minute >= @start AND u.minute < @end "
            + _entry_filter(bind, entry_key)
            + 'SORT u.minute, u.entry_key RETURN UNSET(u, "_key", "_id", "_rev")'
        )
        return self._read("read route statistics", aql, bind, RouteStatsRollup, "route statistics")

    # -- quality ----------------------------------------------------------------

    def add_quality(self, rollups: Iterable[QualityRollup]) -> None:
        """See ``Store.add_quality``."""
        merged: dict[str, QualityRollup] = {}
        for rollup in rollups:
            labels = f"{rollup.entry_key}\x1f{rollup.model}\x1f{rollup.test}"
            key = _usage_key(rollup.minute, labels)
            merged[key] = merged[key] + rollup if key in merged else rollup
        self._sum_into(self._names.quality, merged, QualityRollup, "quality roll-up")

    def quality_stats(
        self,
        *,
        start: datetime,
        end: datetime,
        entry_key: str | None = None,
        test: str | None = None,
    ) -> list[QualityRollup]:
        """See ``Store.quality_stats``."""
        bind: dict[str, Any] = {"@c": self._names.quality, "start": iso(start), "end": iso(end)}
        test_filter = ""
        if test is not None:
            test_filter = "FILTER u.test == @test "
            bind["test"] = test
        aql = (
            "FOR u IN @@c FILTER u.minute >= @start AND u.minute < @end "
            + _entry_filter(bind, entry_key)
            + test_filter
            + "SORT u.minute, u.entry_key, u.model, u.test "
            + 'RETURN UNSET(u, "_key", "_id", "_rev")'
        )
        return self._read("read quality roll-ups", aql, bind, QualityRollup, "quality roll-up")

    def add_quality_alert(self, alert: QualityAlert) -> bool:
        """See ``Store.add_quality_alert``."""
        key = _key(f"{alert.entry_key}\x1f{alert.model}\x1f{iso(alert.window_start)}")
        doc = {**alert.model_dump(mode="json"), "_key": key}
        what = f"record a quality alert of entry {alert.entry_key!r}"
        return self._insert_once(self._names.quality_alerts, doc, what)

    def list_quality_alerts(
        self, *, entry_key: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[QualityAlert]:
        """See ``Store.list_quality_alerts``."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        filters = ""
        bind: dict[str, Any] = {"@c": self._names.quality_alerts, "page_size": limit}
        if entry_key is not None:
            filters += "FILTER a.entry_key == @entry_key "
            bind["entry_key"] = entry_key
        if since is not None:
            filters += "FILTER a.at >= @since "
            bind["since"] = iso(since)
        aql = (
            f"FOR a IN @@c {filters}"
            "SORT a.at DESC, a.entry_key, a.model, a.window_start DESC "
            'LIMIT @page_size RETURN UNSET(a, "_key", "_id", "_rev")'
        )
        return self._read("list quality alerts", aql, bind, QualityAlert, "quality alert")

    # -- results ----------------------------------------------------------------

    def put_result(self, result: StoredResult) -> None:
        """See ``Store.put_result``."""
        doc = {**result.model_dump(mode="json"), "_key": _key(result.fingerprint)}
        with _wrapped(f"store result {result.fingerprint!r}"):
            self._db.collection(self._names.results).insert(
                doc, overwrite_mode="replace", silent=True
            )

    def get_result(self, fingerprint: str, *, now: datetime) -> StoredResult | None:
        """See ``Store.get_result``."""
        with _wrapped(f"read result {fingerprint!r}"):
            doc = self._db.collection(self._names.results).get(_key(fingerprint))
        if doc is None:
            return None
        with decoding("result"):
            result = StoredResult.model_validate(doc)
        return result if result.expires_at > as_utc(now) else None

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
        names = self._names
        plans: dict[str, tuple[str, str, dict[str, Any]] | None] = {
            "usage": None
            if usage_before is None
            # Unfolded minutes exist nowhere else: never delete them.
            else (
                names.usage,
                "x.minute < @cut AND x.minute < NOT_NULL(DOCUMENT(@state_id).through, '')",
                {"cut": iso(usage_before), "state_id": f"{names.state}/{_FOLD_KEY}"},
            ),
            "usage_hours": None
            if usage_hours_before is None
            else (names.usage_hours, "x.minute < @cut", {"cut": iso(usage_hours_before)}),
            "audit": None
            if audit_before is None
            else (names.audit, "x.at < @cut", {"cut": iso(audit_before)}),
            "batches": None
            if batches_ended_before is None
            else (
                names.batches,
                "x.status IN @terminal AND NOT_NULL(x.ended_at, x.created_at) < @cut",
                {
                    "cut": iso(batches_ended_before),
                    "terminal": sorted(s.value for s in TERMINAL_BATCH_STATUSES),
                },
            ),
            "results": None
            if results_expired_by is None
            else (names.results, "x.expires_at <= @cut", {"cut": iso(results_expired_by)}),
            "incidents": None
            if incidents_before is None
            else (names.incidents, "x.at < @cut", {"cut": iso(incidents_before)}),
            "route_stats": None
            if route_stats_before is None
            else (names.route_stats, "x.minute < @cut", {"cut": iso(route_stats_before)}),
            "budget_alerts": None
            if budget_alerts_before is None
            else (names.budget_alerts, "x.at < @cut", {"cut": iso(budget_alerts_before)}),
            "budget_spend": None
            if budget_spend_before is None
            else (
                names.budget_spend,
                "x.period_start < @cut",
                {"cut": iso(budget_spend_before)},
            ),
            "quality": None
            if quality_before is None
            else (names.quality, "x.minute < @cut", {"cut": iso(quality_before)}),
            "quality_alerts": None
            if quality_alerts_before is None
            else (names.quality_alerts, "x.at < @cut", {"cut": iso(quality_alerts_before)}),
        }
        counts = dict.fromkeys(plans, 0)
        with _wrapped("prune old records"):
            for kind, plan in plans.items():
                if plan is None:
                    continue
                collection, condition, bind = plan
                aql = f"FOR x IN @@c FILTER {condition} REMOVE x IN @@c"
                cursor = self._query(self._db, aql, {"@c": collection, **bind})
                counts[kind] = int((cursor.statistics() or {}).get("modified", 0))
        return counts

    def ping(self) -> None:
        """See ``Store.ping``."""
        with _wrapped(f"reach ArangoDB database {self._db.name!r}"):
            self._db.collection(self._names.state).count()

    def close(self) -> None:
        """See ``Store.close``; closes the HTTP sessions if ``connect`` opened them."""
        if self._client is not None:
            self._client.close()
            self._client = None


@contextmanager
def _wrapped(what: str) -> Iterator[None]:
    # requests' connection errors are OSErrors; python-arango raises ArangoError.
    try:
        yield
    except (ArangoError, OSError) as exc:
        raise StoreError(f"cannot {what}: {exc}") from exc


def _entry_filter(bind: dict[str, Any], entry_key: str | None) -> str:
    # A FILTER on u's entry (its bind variable added), or none for every entry.
    if entry_key is None:
        return ""
    bind["entry_key"] = entry_key
    return "FILTER u.entry_key == @entry_key "


@contextmanager
def _batch_id_taken(batch_id: str) -> Iterator[None]:
    try:
        yield
    except ArangoServerError as exc:
        if exc.error_code == _UNIQUE_VIOLATED:
            raise ConflictError(f"batch {batch_id!r} is already recorded") from exc
        raise


def _abort(txn: TransactionDatabase) -> None:
    # If even the abort fails, the server drops the unfinished transaction itself.
    with suppress(ArangoError, OSError):
        txn.abort_transaction()
