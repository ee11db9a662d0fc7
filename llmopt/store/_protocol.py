"""The one interface every store adapter implements, and the contract tests check."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from llmopt.store._records import (
    RECENT_PLANS_KEPT,
    ROUTING_DECISIONS_KEPT,
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
)


@runtime_checkable
class Store(Protocol):
    """Persistence for llmopt: named documents, audit log, batches, usage, results, the
    recent cache plans, the router's circuits, incidents, budget spend and alerts,
    routing decisions and route statistics, and the answers' quality roll-ups and alerts.

    Depend on this protocol, never on an adapter: ``SQLiteStore`` on one machine and
    in tests, ``ArangoStore`` in production, both built by ``open_store`` or
    ``store_from_env``. Every method raises ``StoreError`` when the store cannot be
    read or written; the more specific errors are listed per method. Datetime
    arguments must be timezone-aware (``ValueError`` otherwise).
    """

    def read_document(self, name: DocumentName) -> Document | None:
        """The document called ``name`` with its revision, or ``None`` if it does not exist.

        Raises ``StoreError`` also when the stored body is not a JSON object.
        """
        ...

    def write_document(
        self,
        name: DocumentName,
        body: Mapping[str, Any],
        *,
        expected_revision: str | None,
        audit: AuditEvent,
    ) -> Document:
        """Create or replace a document and record ``audit`` in the same transaction.

        ``expected_revision=None`` creates the document, which must not exist yet;
        otherwise it must be the revision last read. The body is stored verbatim
        (unknown fields included) except the ArangoDB system attributes ``_key``,
        ``_id`` and ``_rev``. Returns the document with its new revision.

        Raises ``ConflictError`` when the revision is stale, when creating a
        document that exists, or when replacing one that does not; then nothing
        was written, neither the document nor the audit record.
        """
        ...

    def record_audit(self, event: AuditEvent) -> AuditRecord:
        """Record an action that changes no document (a document write audits itself)."""
        ...

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
        """Audit records, newest first, matching every filter given.

        Page with ``before_id=<id of the last record of the previous page>``.
        ``since`` keeps records at or after that time. ``actor`` and ``target`` must
        equal the record's, or with ``match="contains"`` appear anywhere in it, in any
        case (a filter box: ``"dana"`` finds ``"user Dana"``). Raises ``ValueError`` for a
        negative ``limit``, and ``SQLiteStore`` also for a ``before_id`` that is not
        one of its ids.
        """
        ...

    def insert_batch(self, record: BatchRecord) -> None:
        """Add a batch to the ledger; ``ConflictError`` if its id is already there."""
        ...

    def insert_batch_unless_held(self, record: BatchRecord) -> dict[str, str]:
        """Add a batch unless an unfinished batch of its entry (one in
        ``BATCHES_IN_FLIGHT``) holds one of its requests, by fingerprint: one atomic
        step, so two processes can never both record the same request.

        Returns ``{}`` when it was added; otherwise ``{fingerprint: holding batch id}``
        for each request held, and nothing is written. ``ConflictError`` if its id is
        already there.
        """
        ...

    def get_batch(self, batch_id: str) -> BatchRecord:
        """The batch with this ledger id; ``RecordNotFound`` if there is none."""
        ...

    def update_batch(
        self,
        batch_id: str,
        changes: Mapping[str, Any],
        *,
        expect: Mapping[str, Any] | None = None,
    ) -> BatchRecord | None:
        """Apply ``changes`` if every field in ``expect`` has the given value (compare-and-set).

        Returns the updated record, or ``None`` when a field in ``expect`` differs,
        in which case nothing was written: use it to claim a batch so that of two
        workers exactly one wins. Values are compared in their JSON form.

        Raises ``RecordNotFound`` for an unknown batch, and ``ValueError`` before
        touching the store when ``changes`` or ``expect`` name an unknown field or
        ``id``, or hold a value of the wrong type (``pydantic.ValidationError``).
        """
        ...

    def list_batches(
        self,
        *,
        statuses: Collection[BatchStatus] | None = None,
        entry_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
        with_requests: bool = True,
    ) -> list[BatchRecord]:
        """Batches, most recently created first, optionally only these statuses or entry.

        ``with_requests=False`` leaves each record's ``requests`` map empty: a list
        for people needs counts, not up to 100,000 fingerprints per batch, and
        reading them is most of the cost. Raises ``ValueError`` for a negative
        ``limit`` or ``offset``.
        """
        ...

    def count_batches(
        self,
        *,
        statuses: Collection[BatchStatus] | None = None,
        entry_key: str | None = None,
    ) -> int:
        """How many batches ``list_batches`` with the same filters would list unpaged."""
        ...

    def add_usage(self, rollups: Iterable[UsageRollup]) -> None:
        """Sum roll-ups into the stored ones of the same minute and entry, all or none.

        A roll-up of a minute that is already folded (before the fold watermark, see
        ``fold_usage``) is also summed into its hourly roll-up, in the same
        transaction, so a late flush is never lost from ``usage_by_hour``.
        """
        ...

    def fold_usage(self, *, through: datetime) -> int:
        """Sum minute roll-ups into hourly ones for every whole hour before ``through``.

        Folds the hours from the current watermark (or from the first stored minute,
        the first time) up to ``through`` floored to the hour, replacing any hourly
        roll-ups of those hours, and moves the watermark there, all in one
        transaction. Returns how many hourly roll-ups were written. Idempotent: a
        ``through`` at or before the watermark writes nothing and returns 0; the
        watermark never moves back. Run it periodically (the console's beat task).
        """
        ...

    def usage_by_hour(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[UsageRollup]:
        """Roll-ups per hour and entry with ``start <= hour < end``, ordered by hour then entry.

        Each roll-up's ``minute`` holds the start of its hour, and its counters equal
        the sum of ``usage()`` over that hour, before and after any fold: hours below
        the watermark come from the hourly roll-ups, later ones are summed from the
        minute roll-ups in the store. Use it for charts and totals over days.
        Raises ``ValueError`` when ``start`` or ``end`` is not the start of an hour.
        """
        ...

    def usage_summary(
        self,
        *,
        start: datetime,
        end: datetime,
        bucket: UsageBucket | None = None,
        by_entry: bool = False,
        entry_key: str | None = None,
    ) -> list[UsageRollup]:
        """``usage_by_hour`` over the same arguments, summed in the store.

        Sums per ``bucket`` (``"hour"``; ``"day"``, a UTC day; ``None``: the whole
        range) and, when ``by_entry``, per entry, ordered by bucket then entry. Each
        row's ``minute`` is its bucket's start (``start`` when ``bucket`` is
        ``None``; a day bucket starts at midnight even when ``start`` is later), and
        its ``entry_key`` is ``""`` unless ``by_entry``. Buckets and entries without
        usage have no row, so an empty range gives ``[]``. Use it for totals and
        charts: 30 days by day is 30 rows, not 720 per entry. Raises ``ValueError``
        when ``start`` or ``end`` is not the start of an hour, or for another bucket.
        """
        ...

    def usage(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[UsageRollup]:
        """Roll-ups with ``start <= minute < end``, ordered by minute then entry key."""
        ...

    def add_plans(self, plans: Iterable[PlanRecord], *, keep: int = RECENT_PLANS_KEPT) -> None:
        """Record cache plans, then keep only the newest ``keep`` of each entry they name.

        Newest is by ``at``, then by order of recording; plans from every process count
        alike, so the entries' pages show the newest overall. All or none are written.
        Raises ``ValueError`` when ``keep`` is below 1.
        """
        ...

    def recent_plans(self, entry_key: str, *, limit: int = 10) -> list[PlanRecord]:
        """The newest ``limit`` plans recorded for ``entry_key``, newest first.

        Raises ``ValueError`` for a negative ``limit``.
        """
        ...

    def put_planner_states(self, states: Iterable[PlannerState]) -> None:
        """Create or replace each state (one per entry and process); all or none are
        written. States of the same entries not updated for ``PLANNER_STATE_KEPT`` before
        the newest given are deleted: their processes have stopped."""
        ...

    def planner_states(self, entry_keys: Collection[str], *, since: datetime) -> list[PlannerState]:
        """Every process's state of ``entry_keys`` updated at or after ``since``."""
        ...

    def put_result(self, result: StoredResult) -> None:
        """Store a reusable result, replacing any with the same fingerprint."""
        ...

    def get_result(self, fingerprint: str, *, now: datetime) -> StoredResult | None:
        """The result for ``fingerprint``, or ``None`` if absent or expired at ``now``."""
        ...

    # -- routing: circuits, incidents, budgets, decisions, statistics ---------------

    def circuits(self, entry_keys: Collection[str] | None = None) -> dict[str, CircuitRecord]:
        """The stored circuit of each entry in ``entry_keys`` (every stored one when
        ``None``), by entry key; entries whose circuit was never stored are absent."""
        ...

    def swap_circuit(self, record: CircuitRecord, *, expected_version: int) -> CircuitRecord | None:
        """Store ``record`` as its entry's circuit if the stored one still has
        ``expected_version`` (compare-and-set; 0: there is none yet).

        Returns the record as stored, with version ``expected_version + 1`` (the
        ``version`` passed in is ignored), or ``None`` when another process changed the
        circuit first, in which case nothing was written: re-read and decide again.
        Raises ``ValueError`` for a negative ``expected_version``.
        """
        ...

    def add_incidents(self, records: Iterable[IncidentRecord]) -> None:
        """Record incidents, all or none; the store assigns their ids (the ``id`` given
        is ignored), in order of ``at`` within one call."""
        ...

    def list_incidents(
        self,
        *,
        entry_key: str | None = None,
        kinds: Collection[str] | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_id: str | None = None,
    ) -> list[IncidentRecord]:
        """Incidents, newest (last recorded) first, matching every filter given.

        ``kinds`` keeps those of these kinds (an empty collection: none), ``since`` those
        at or after that time. Page with ``before_id=<id of the last incident of the
        previous page>``. Raises ``ValueError`` for a negative ``limit``, and
        ``SQLiteStore`` also for a ``before_id`` that is not one of its ids.
        """
        ...

    def incident_counts(
        self, *, since: datetime, entry_key: str | None = None
    ) -> dict[tuple[str, str], int]:
        """How many incidents happened at or after ``since``, by ``(entry_key, kind)``;
        only those of ``entry_key`` when given. Pairs without incidents are absent."""
        ...

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
        """Add ``usd`` and ``tokens`` to a budget's period unless it is spent already,
        in one atomic step: of many processes reserving at once, none sees a total
        another is changing.

        Returns ``None``, writing nothing, when ``limit_usd`` is given and the stored
        ``usd`` (0 when none is stored) is at or above it, or ``limit_tokens`` is given
        and the stored ``tokens`` is at or above it; otherwise the new totals. A budget
        thus overshoots its limit by at most the reservations admitted just under it.
        Settle a reservation with ``charge_budget`` (the difference, or its negative
        to release it). Raises ``ValueError`` for a negative or non-finite amount.
        """
        ...

    def charge_budget(
        self, budget: str, period_start: datetime, *, usd: float, tokens: int
    ) -> BudgetSpend:
        """Add ``usd`` and ``tokens`` to a budget's period whatever its limit, atomically,
        and return the new totals. Negative amounts release a reservation; totals never
        go below 0. Raises ``ValueError`` for a non-finite ``usd``.
        """
        ...

    def budget_spend(
        self, keys: Iterable[tuple[str, datetime]]
    ) -> dict[tuple[str, datetime], BudgetSpend]:
        """The stored spend of each ``(budget, period_start)``, keyed by those pairs (with
        ``period_start`` in UTC); pairs nothing was spent in are absent."""
        ...

    def add_budget_alert(self, alert: BudgetAlert) -> bool:
        """Record ``alert`` unless one of the same budget, period and threshold is there.

        Returns ``True`` when it was recorded: that caller, and only it, sends the alert.
        ``False`` when it was there already; then nothing was written.
        """
        ...

    def list_budget_alerts(
        self, *, budget: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[BudgetAlert]:
        """Budget alerts, newest ``at`` first (then highest threshold), of ``budget`` if
        given and at or after ``since`` if given. Raises ``ValueError`` for a negative
        ``limit``."""
        ...

    def add_routing_decisions(
        self, records: Iterable[RoutingDecisionRecord], *, keep: int = ROUTING_DECISIONS_KEPT
    ) -> None:
        """Record routing decisions (all or none; the store assigns their ids), then keep
        only the newest ``keep`` of all entries together.

        Newest is by ``at``, then by order of recording, whichever process recorded them.
        Raises ``ValueError`` when ``keep`` is below 1.
        """
        ...

    def recent_routing_decisions(
        self, *, limit: int = 50, entry_key: str | None = None
    ) -> list[RoutingDecisionRecord]:
        """The newest ``limit`` routing decisions, newest first; only those that chose
        ``entry_key`` when given. Raises ``ValueError`` for a negative ``limit``."""
        ...

    def add_route_stats(self, rollups: Iterable[RouteStatsRollup]) -> None:
        """Sum roll-ups into the stored ones of the same minute and entry, all or none:
        every counter, each latency bucket and each error class."""
        ...

    def route_stats(
        self, *, start: datetime, end: datetime, entry_key: str | None = None
    ) -> list[RouteStatsRollup]:
        """Route statistics with ``start <= minute < end``, ordered by minute then entry,
        only ``entry_key``'s when given. Fold them with ``RouteStatsRollup.fold``."""
        ...

    # -- quality: scored answers and degradation alerts ------------------------------

    def add_quality(self, rollups: Iterable[QualityRollup]) -> None:
        """Sum roll-ups into the stored ones of the same minute, entry, model and test, all
        or none: every counter, and each check's sum and count and each flag, key by key."""
        ...

    def quality_stats(
        self,
        *,
        start: datetime,
        end: datetime,
        entry_key: str | None = None,
        test: str | None = None,
    ) -> list[QualityRollup]:
        """Quality roll-ups with ``start <= minute < end``, ordered by minute, entry, model
        then test; only ``entry_key``'s when given, and only ``test``'s when given (``""``:
        only the traffic outside any test; ``None``: all). Fold them with
        ``QualityRollup.fold``."""
        ...

    def add_quality_alert(self, alert: QualityAlert) -> bool:
        """Record ``alert`` unless one of the same entry, model and window start is there.

        Returns ``True`` when it was recorded: that caller, and only it, sends the alert.
        ``False`` when it was there already; then nothing was written.
        """
        ...

    def list_quality_alerts(
        self, *, entry_key: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[QualityAlert]:
        """Quality alerts, newest ``at`` first, of ``entry_key`` if given and at or after
        ``since`` if given. Raises ``ValueError`` for a negative ``limit``."""
        ...

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
        """Delete old rows of each kind a cutoff is given for.

        Deletes minute roll-ups with ``minute < usage_before`` that are folded
        already (below the fold watermark: unfolded minutes are kept whatever the
        cutoff), hourly roll-ups with ``hour < usage_hours_before``, audit records
        with ``at < audit_before``, ended or failed batches whose ``ended_at`` (or,
        if unset, ``created_at``) is before ``batches_ended_before`` — never a batch
        still in flight — and results with ``expires_at <= results_expired_by``.
        Keep hourly roll-ups at least as long as minute ones, or ``usage_by_hour``
        loses the folded hours in between. Also incidents with ``at < incidents_before``,
        route statistics with ``minute < route_stats_before``, budget alerts with
        ``at < budget_alerts_before`` and budget spend with ``period_start <
        budget_spend_before`` (keep alerts as long as the spend of their periods, or a
        threshold may alert twice). And quality roll-ups with ``minute < quality_before``
        and quality alerts with ``at < quality_alerts_before``. Returns ``{"usage": n,
        "usage_hours": n, "audit": n, "batches": n, "results": n, "incidents": n,
        "route_stats": n, "budget_alerts": n, "budget_spend": n, "quality": n,
        "quality_alerts": n}``, with 0 for the kinds not asked for.
        """
        ...

    def ping(self) -> None:
        """Return if the store can be reached; raise ``StoreError`` if not (health checks)."""
        ...

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...
