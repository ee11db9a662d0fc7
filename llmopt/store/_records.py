"""What the store keeps: documents, audit records, batches, usage roll-ups, results, the
recent cache plans, the router's circuits, incidents, budgets, decisions and statistics,
and the answers' quality roll-ups and alerts.

Every datetime is timezone-aware and UTC: naive datetimes are rejected rather than
guessed at, and aware ones are converted. In JSON every datetime has one fixed-width
form (``2025-01-31T09:05:00.000000+00:00``) so that stored strings sort like the
instants they stand for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from llmopt.errors import StoreError


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; raises ``ValueError`` for a naive datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware (UTC), not naive")
    return value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC: the clock every ``clock=`` option defaults to."""
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    """The fixed-width ISO form the stores keep, which sorts chronologically."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


UTCDateTime = Annotated[
    datetime,
    AfterValidator(as_utc),
    PlainSerializer(iso, return_type=str, when_used="json"),
]


class DocumentName(StrEnum):
    """The named JSON documents the store holds, each written optimistically.

    ============  ============================================================
    name          where ArangoDB keeps it
    ============  ============================================================
    AI_CONFIG     ``aiconfigs/ai_models_config`` (the production document)
    KILL_SWITCH   ``llmopt_state/kill_switch``
    MIGRATION     ``llmopt_state/migration``
    ============  ============================================================
    """

    AI_CONFIG = "ai_config"
    KILL_SWITCH = "kill_switch"
    MIGRATION = "migration"


class Document(BaseModel, frozen=True):
    """A document's JSON body and the revision to send back when replacing it.

    ``revision`` is opaque: compare it for equality, never parse it.
    """

    body: dict[str, Any]
    revision: str


_SYSTEM_ATTRIBUTES = ("_key", "_id", "_rev")


def without_system_attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` as ``Store.write_document`` keeps it: without ArangoDB's system attributes."""
    return {k: v for k, v in body.items() if k not in _SYSTEM_ATTRIBUTES}


class AuditEvent(BaseModel, frozen=True):
    """What a caller asks the audit log to record: who did what to which target, and why.

    ``before`` and ``after`` must be JSON-serialisable; mask secrets before passing them.
    """

    actor: str
    action: str
    target: str
    before: Any = None
    after: Any = None
    reason: str = ""


AuditMatch = Literal["exact", "contains"]
"""How ``Store.list_audit`` compares its actor and target filters."""


class AuditRecord(AuditEvent, frozen=True):
    """An audit event as stored: with its id (the paging cursor) and its time."""

    id: str
    at: UTCDateTime


class BatchStatus(StrEnum):
    """Where a provider batch is in its life.

    ``PENDING`` recorded but not yet submitted; ``IN_PROGRESS`` and ``CANCELING``
    as the provider reports; ``ENDED`` finished (results may be fetched);
    ``FAILED`` submission failed and nothing exists at the provider.
    """

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    CANCELING = "canceling"
    ENDED = "ended"
    FAILED = "failed"


BATCHES_IN_FLIGHT: frozenset[BatchStatus] = frozenset(
    {BatchStatus.PENDING, BatchStatus.IN_PROGRESS, BatchStatus.CANCELING}
)
"""The statuses of a batch that has not finished: pollers resume these, pages watch them."""


TERMINAL_BATCH_STATUSES = frozenset({BatchStatus.ENDED, BatchStatus.FAILED})


def _empty_request_counts() -> dict[str, int]:
    return {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}


class BatchCancel(BaseModel, frozen=True):
    """An operator's cancel of a batch, as the ledger keeps it.

    ``by`` who asked and ``at`` when; ``reason`` why, for people. ``send_rest_standard``
    says what becomes of the requests the cancel stops (result ``canceled``): ``False``
    (the default), none is answered, their callers get ``BatchCanceled`` and nothing more
    is billed for them; ``True``, whoever waits for them sends them at once to the
    standard API, at the standard price. ``problem`` is why the provider has not taken
    the cancel yet (every poller of the batch asks it again), ``None`` once it has.
    """

    by: str
    at: UTCDateTime
    reason: str = ""
    send_rest_standard: bool = False
    problem: str | None = None


class BatchRecord(BaseModel):
    """One provider batch in our ledger; ``id`` is ours, ``provider_batch_id`` the provider's.

    ``requests`` maps each request's ``custom_id`` to its request fingerprint, so
    finished answers can be stored as reusable results. ``cancel`` is an operator's
    cancel (``None``: nobody canceled it, or only the batch client at its deadline).
    """

    id: str
    provider: str
    model: str
    entry_key: str
    provider_batch_id: str | None = None
    status: BatchStatus = BatchStatus.PENDING
    request_counts: dict[str, int] = Field(default_factory=_empty_request_counts)
    requests: dict[str, str] = Field(default_factory=dict)
    created_at: UTCDateTime
    submitted_at: UTCDateTime | None = None
    ended_at: UTCDateTime | None = None
    expires_at: UTCDateTime | None = None
    last_polled_at: UTCDateTime | None = None
    cost_estimate_usd: float | None = None
    error: str | None = None
    cancel: BatchCancel | None = None


_BATCH_PROBE = BatchRecord(
    id="probe",
    provider="probe",
    model="probe",
    entry_key="probe",
    created_at=datetime(2000, 1, 1, tzinfo=UTC),
)


def batch_fields_as_json(fields: dict[str, Any], *, what: str) -> dict[str, Any]:
    """Validate some ``BatchRecord`` fields on their own and return their JSON values.

    Raises ``ValueError`` for an unknown field or for ``id`` (a batch's id never
    changes), and ``pydantic.ValidationError`` (also a ``ValueError``) for a bad value.
    """
    unknown = sorted(set(fields) - set(BatchRecord.model_fields))
    if unknown:
        raise ValueError(f"{what} names unknown batch field(s): {', '.join(unknown)}")
    if "id" in fields:
        raise ValueError(f"{what} cannot name 'id': a batch's id never changes")
    merged = BatchRecord.model_validate({**_BATCH_PROBE.model_dump(), **fields})
    as_json = merged.model_dump(mode="json")
    return {name: as_json[name] for name in fields}


class UsageRollup(BaseModel):
    """The usage of one config entry during one minute (UTC).

    ``minute`` is truncated to the minute on validation. Adding two roll-ups of the
    same ``(minute, entry_key)`` sums every counter, in memory (``a + b``) and in
    the store (``Store.add_usage``). ``baseline_cost_usd`` is what the same calls
    would have cost without optimization; ``unpriced_calls`` counts calls whose cost
    is unknown and therefore missing from ``cost_usd``; ``optimized_calls`` counts
    calls sent with an optimization (a cache plan or the Batch API), so
    ``calls - optimized_calls`` went out as standard requests. The token counters are
    disjoint, as Anthropic reports them: ``input_tokens`` is the uncached input only,
    so total input = input + cache write + cache read.

    Four counters describe the requests the cache planner saw, by its own token
    estimate (what the migration guide's ``get_cache_stats()`` reports):
    ``content_blocks`` in them, ``cached_blocks`` that carried a breakpoint, their
    ``estimated_input_tokens`` and the ``estimated_cached_tokens`` under a breakpoint.

    The last six say what caching wasted, by the planner's memory (``CachePlan``'s
    fields of the same names): ``unread_write_tokens_5m`` and ``unread_write_tokens_1h``
    of earlier cache writes that expired without a read, found by these calls, and what
    writing them cost (``unread_write_cost_usd``, at the write price); ``write_cost_usd``,
    what all of these calls' cache writes cost, read or not; ``missed_read_tokens``,
    input these calls sent at full price that a recent request had also sent, and
    ``missed_read_cost_usd``, what reading them from the cache would have saved (input
    price less read price). Costs are at the price the calls were billed at (batch or
    not); like ``cost_usd`` they leave out the ``unpriced_calls``.
    """

    minute: UTCDateTime
    entry_key: str
    calls: int = 0
    optimized_calls: int = 0
    batched_calls: int = 0
    fallbacks: int = 0
    errors: int = 0
    input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0
    unpriced_calls: int = 0
    content_blocks: int = 0
    cached_blocks: int = 0
    estimated_input_tokens: int = 0
    estimated_cached_tokens: int = 0
    unread_write_tokens_5m: int = 0
    unread_write_tokens_1h: int = 0
    missed_read_tokens: int = 0
    write_cost_usd: float = 0.0
    unread_write_cost_usd: float = 0.0
    missed_read_cost_usd: float = 0.0

    @field_validator("minute")
    @classmethod
    def _truncate_to_minute(cls, value: datetime) -> datetime:
        return value.replace(second=0, microsecond=0)

    def __add__(self, other: UsageRollup) -> UsageRollup:
        """The sum of two roll-ups of the same minute and entry; ``ValueError`` otherwise."""
        if (self.minute, self.entry_key) != (other.minute, other.entry_key):
            raise ValueError("only roll-ups of the same minute and entry_key can be added")
        sums = {name: getattr(self, name) + getattr(other, name) for name in USAGE_COUNTERS}
        return self.model_copy(update=sums)


# How Store.usage_summary groups hours: by hour, or by UTC day.
UsageBucket = Literal["hour", "day"]

USAGE_COUNTERS: tuple[str, ...] = tuple(
    name for name in UsageRollup.model_fields if name not in ("minute", "entry_key")
)


def hour_of(value: datetime) -> datetime:
    """The start of the UTC hour ``value`` falls in: the key of hourly roll-ups."""
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def whole_hour(value: datetime, *, what: str) -> datetime:
    """``value`` in UTC if it is the start of an hour; ``ValueError`` naming ``what`` otherwise."""
    utc = as_utc(value)
    if utc != hour_of(utc):
        raise ValueError(f"{what} must be the start of an hour (UTC), not {iso(utc)}")
    return utc


def hour_range(start: datetime, end: datetime) -> tuple[str, str]:
    """The stored forms of ``start`` and ``end``, the bounds of an hourly read.

    Raises ``ValueError`` when either is not the start of an hour (UTC).
    """
    return iso(whole_hour(start, what="start")), iso(whole_hour(end, what="end"))


RECENT_PLANS_KEPT = 20
"""How many of an entry's cache plans ``Store.add_plans`` keeps by default: the newest."""
PLANNER_STATE_KEPT = timedelta(days=1)
"""How long ``Store.put_planner_states`` keeps the state of a process that stopped writing."""


class PlanBreakpoint(BaseModel, frozen=True):
    """One breakpoint of a recorded plan (``llmopt.caching.Breakpoint``): the block it
    marks (``location``), its ``ttl`` in seconds, the estimated tokens of the prefix it
    closes, who placed it (``origin``: ``"caller"`` or ``"planner"``) and why."""

    location: str
    ttl: int
    prefix_tokens: int
    origin: str
    reason: str


class PlanRecord(BaseModel, frozen=True):
    """What the cache planner made of one request of an entry, kept to explain it later.

    ``at`` is when the call was made, by the recording process's clock; ``breakpoints``
    and ``decisions`` are the plan's, in its order, and the counts are the plan's
    (``llmopt.caching.CachePlan``). The planner writes its sentences from the request's
    structure (block locations, token counts), never from its text, so a record holds
    no prompt; render it escaped all the same.
    """

    entry_key: str
    at: UTCDateTime
    model: str = ""
    content_blocks: int = 0
    estimated_tokens: int = 0
    breakpoints: tuple[PlanBreakpoint, ...] = ()
    decisions: tuple[str, ...] = ()
    unread_write_tokens_5m: int = 0
    unread_write_tokens_1h: int = 0
    missed_read_tokens: int = 0


class PlannerState(BaseModel, frozen=True):
    """What one process's cache planner has learned of one entry's traffic, shared so that
    every process plans with what all of them saw.

    ``process`` names the process that wrote it (host and pid), ``updated_at`` when;
    ``body`` is its memory's export (``llmopt.caching.PrefixMemory.export``: prefix
    fingerprints, times and counts, no prompt text), stored verbatim and checked by the
    reader.
    """

    entry_key: str
    process: str
    updated_at: UTCDateTime
    body: dict[str, Any]


class StoredResult(BaseModel):
    """A finished batch item's answer, kept so a re-sent identical request reuses it.

    It is looked up by ``fingerprint`` (of the request) and stops being returned
    once ``expires_at`` has passed.
    """

    fingerprint: str
    result: dict[str, Any]
    batch_id: str | None = None
    created_at: UTCDateTime
    expires_at: UTCDateTime


class CircuitState(StrEnum):
    """Where an entry's circuit breaker is.

    ``CLOSED`` calls go through; ``OPEN`` calls are refused (or fail over) until
    ``retry_at``; ``HALF_OPEN`` one process (``probe_owner``) sends a probe call whose
    outcome closes or reopens the circuit.
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitRecord(BaseModel, frozen=True):
    """The circuit breaker of one llm entry, shared by every process.

    ``forced`` is an operator's override (``"open"`` or ``"closed"``; ``None`` lets the
    breaker decide). ``failures`` counts consecutive failures; ``opened_at`` is when it
    last opened, ``retry_at`` when an open circuit may be probed, ``probe_owner`` the
    process holding the half-open probe, ``reason`` why, for people. ``version`` is
    assigned by ``Store.swap_circuit``: pass the version read as ``expected_version``;
    0 means never stored.
    """

    entry_key: str
    state: CircuitState = CircuitState.CLOSED
    forced: Literal["open", "closed"] | None = None
    failures: int = Field(default=0, ge=0)
    opened_at: UTCDateTime | None = None
    retry_at: UTCDateTime | None = None
    probe_owner: str | None = None
    reason: str = ""
    updated_at: UTCDateTime
    version: int = Field(default=0, ge=0)


class IncidentRecord(BaseModel, frozen=True):
    """Something that happened to an entry that people should see: a circuit opened,
    half-opened or closed, a failover taken, a state forced by an operator, a call refused.

    ``kind`` is a free string (``"circuit_opened"``, ``"failover"``, ...); ``to_entry``
    names the entry a failover went to. ``id`` is assigned by the store (ids sort like
    recording order; ``Store.list_incidents`` pages with them); leave it empty.
    """

    id: str = ""
    at: UTCDateTime
    entry_key: str
    kind: str
    error_class: str | None = None
    detail: str = ""
    to_entry: str | None = None


class BudgetSpend(BaseModel, frozen=True):
    """What a budget has spent (reserved and charged) in the period starting ``period_start``.

    Totals never go below 0. ``updated_at`` is the store's clock at the last change.
    """

    budget: str
    period_start: UTCDateTime
    usd: float = 0.0
    tokens: int = 0
    updated_at: UTCDateTime


class BudgetAlert(BaseModel, frozen=True):
    """A budget that crossed ``threshold`` percent (50, 80, 100) of a limit in a period.

    One per budget, period and threshold: ``Store.add_budget_alert`` records only the
    first, so exactly one process sends it. ``usd`` and ``tokens`` are the totals when
    it was crossed, ``limit_usd`` and ``limit_tokens`` the budget's limits then.
    """

    budget: str
    period_start: UTCDateTime
    threshold: int = Field(gt=0)
    at: UTCDateTime
    usd: float
    tokens: int
    limit_usd: float | None = None
    limit_tokens: int | None = None
    detail: str = ""


def checked_budget_amounts(usd: float, tokens: int, *, reserving: bool) -> None:
    """Raise ``ValueError`` for a non-finite ``usd`` and, when ``reserving``, for a negative
    amount (a reservation is released with a negative charge, never a negative reserve)."""
    if not math.isfinite(usd):
        raise ValueError(f"usd must be a finite number, not {usd}")
    if reserving and (usd < 0 or tokens < 0):
        raise ValueError("a reservation's usd and tokens must not be negative")


ROUTING_DECISIONS_KEPT = 200
"""How many routing decisions ``Store.add_routing_decisions`` keeps by default: the newest."""


class RoutingDecisionRecord(BaseModel, frozen=True):
    """Why the router sent one request where it did, kept to show on the console.

    ``entry_key`` is the entry chosen, ``reason`` why, in a sentence; ``task`` the
    caller's task, if any; ``fallback_from`` the entry the request was meant for when it
    failed over. ``candidates`` are the entries considered, as JSON objects
    (``{"entry": ..., "score": ..., "excluded": "why" | None}``). ``id`` is assigned by
    the store; leave it empty.
    """

    id: str = ""
    at: UTCDateTime
    entry_key: str
    reason: str
    task: str | None = None
    request_tokens: int = 0
    fallback_from: str | None = None
    candidates: list[dict[str, Any]] = Field(default_factory=list)


LATENCY_BUCKETS_MS: tuple[float, ...] = (
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
)
"""The upper bounds (inclusive, in milliseconds) of ``RouteStatsRollup.latency_buckets``;
one more bucket counts the calls slower than the last."""


def latency_bucket(latency_ms: float) -> int:
    """The index in ``RouteStatsRollup.latency_buckets`` of a call that took ``latency_ms``."""
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BUCKETS_MS)


def _no_latencies() -> list[int]:
    return [0] * (len(LATENCY_BUCKETS_MS) + 1)


class RouteStatsRollup(BaseModel, frozen=True):
    """What the calls routed to one entry did during one minute (UTC).

    ``minute`` is truncated to the minute on validation. ``errors`` counts failed calls
    by error class; ``latency_buckets`` counts calls by latency, bucket ``i`` holding
    those up to ``LATENCY_BUCKETS_MS[i]`` (the last, the slower ones; see
    ``latency_bucket``), and ``latency_ms_sum`` their total latency. ``Store.add_route_stats``
    sums roll-ups of the same minute and entry, counter by counter, bucket by bucket and
    error class by error class; so does ``a + b``, and ``fold`` over any roll-ups.
    Raises ``ValueError`` (``pydantic.ValidationError``) for a ``latency_buckets`` of the
    wrong length or a negative count.
    """

    minute: UTCDateTime
    entry_key: str
    calls: int = 0
    errors: dict[str, int] = Field(default_factory=dict)
    latency_ms_sum: float = 0.0
    latency_buckets: list[int] = Field(default_factory=_no_latencies)
    cost_usd: float = 0.0
    tokens: int = 0

    @field_validator("minute")
    @classmethod
    def _truncate_to_minute(cls, value: datetime) -> datetime:
        return value.replace(second=0, microsecond=0)

    @field_validator("latency_buckets")
    @classmethod
    def _one_count_per_bucket(cls, value: list[int]) -> list[int]:
        if len(value) != len(LATENCY_BUCKETS_MS) + 1:
            raise ValueError(
                f"latency_buckets must hold {len(LATENCY_BUCKETS_MS) + 1} counts, not {len(value)}"
            )
        if any(count < 0 for count in value):
            raise ValueError("latency_buckets must not hold a negative count")
        return value

    @property
    def error_count(self) -> int:
        """How many calls failed, whatever their error class."""
        return sum(self.errors.values())

    def latency_percentile(self, q: float) -> float | None:
        """The latency (ms) under which a fraction ``q`` (0 to 1) of the timed calls fell.

        It is the upper bound of the bucket where the cumulative count reaches ``q`` of
        all counted calls: an upper estimate, ``math.inf`` when that is the last bucket,
        ``None`` when no call was timed. Raises ``ValueError`` for ``q`` outside [0, 1].
        """
        if not 0 <= q <= 1:
            raise ValueError(f"q must be between 0 and 1, not {q}")
        total = sum(self.latency_buckets)
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for bound, count in zip(LATENCY_BUCKETS_MS, self.latency_buckets, strict=False):
            seen += count
            if seen >= rank:
                return float(bound)
        return math.inf

    def __add__(self, other: RouteStatsRollup) -> RouteStatsRollup:
        """The sum of two roll-ups of the same minute and entry; ``ValueError`` otherwise."""
        if (self.minute, self.entry_key) != (other.minute, other.entry_key):
            raise ValueError("only roll-ups of the same minute and entry_key can be added")
        return RouteStatsRollup.fold([self, other], minute=self.minute, entry_key=self.entry_key)

    @classmethod
    def fold(
        cls, rollups: Iterable[RouteStatsRollup], *, minute: datetime, entry_key: str
    ) -> RouteStatsRollup:
        """The sum of ``rollups``, whatever their minutes and entries, labelled ``minute``
        and ``entry_key``: an entry's statistics over a window, or all entries' at once.
        No roll-ups give zeros."""
        errors: dict[str, int] = {}
        buckets = _no_latencies()
        calls = tokens = 0
        latency_ms_sum = cost_usd = 0.0
        for rollup in rollups:
            calls += rollup.calls
            tokens += rollup.tokens
            latency_ms_sum += rollup.latency_ms_sum
            cost_usd += rollup.cost_usd
            for error_class, count in rollup.errors.items():
                errors[error_class] = errors.get(error_class, 0) + count
            buckets = [a + b for a, b in zip(buckets, rollup.latency_buckets, strict=True)]
        return cls(
            minute=minute,
            entry_key=entry_key,
            calls=calls,
            errors=errors,
            latency_ms_sum=latency_ms_sum,
            latency_buckets=buckets,
            cost_usd=cost_usd,
            tokens=tokens,
        )


_Count = Annotated[int, Field(ge=0)]
_Finite = Annotated[float, Field(allow_inf_nan=False)]


class QualityRollup(BaseModel, frozen=True):
    """What the scored answers of one entry and model did during one minute (UTC).

    ``minute`` is truncated to the minute on validation. ``test`` names the A/B test
    these answers were part of, ``""`` for other traffic. ``count`` answers were scored;
    ``score_sum`` and ``score_sq_sum`` are the sum of their combined scores and of their
    squares (for ``variance``); ``passed`` scored at or above the pass threshold and
    ``fatal`` failed a fatal check (a refusal, a leaked secret). ``check_sums`` holds,
    per check, the sum of its scores, and ``check_counts`` how many answers it applied
    to (a check need not apply to every answer); ``flags`` counts answers per flag
    (``"truncated"``, ``"refusal"``, ...); ``judge_cost_usd`` is what judging them cost.
    ``Store.add_quality`` sums roll-ups of the same minute, entry, model and test,
    counter by counter and check, flag by flag; so does ``a + b``, and ``fold`` over any
    roll-ups. Raises ``ValueError`` (``pydantic.ValidationError``) for a negative count,
    a number that is not finite, or more ``passed`` or ``fatal`` answers than ``count``.
    """

    minute: UTCDateTime
    entry_key: str
    model: str
    test: str = ""
    count: _Count = 0
    score_sum: _Finite = 0.0
    score_sq_sum: _Finite = 0.0
    passed: _Count = 0
    fatal: _Count = 0
    check_sums: dict[str, _Finite] = Field(default_factory=dict)
    check_counts: dict[str, _Count] = Field(default_factory=dict)
    flags: dict[str, _Count] = Field(default_factory=dict)
    judge_cost_usd: _Finite = 0.0

    @field_validator("minute")
    @classmethod
    def _truncate_to_minute(cls, value: datetime) -> datetime:
        return value.replace(second=0, microsecond=0)

    @model_validator(mode="after")
    def _no_more_outcomes_than_answers(self) -> QualityRollup:
        for name in ("passed", "fatal"):
            if getattr(self, name) > self.count:
                raise ValueError(f"{name} ({getattr(self, name)}) exceeds count ({self.count})")
        return self

    @property
    def mean(self) -> float | None:
        """The mean combined score, ``None`` when no answer was scored."""
        return self.score_sum / self.count if self.count else None

    @property
    def variance(self) -> float | None:
        """The sample variance of the combined scores, ``None`` below two answers."""
        if self.count < 2:
            return None
        spread = self.score_sq_sum - self.score_sum * self.score_sum / self.count
        # Rounding can leave a tiny negative where the scores were all equal.
        return max(0.0, spread / (self.count - 1))

    @property
    def pass_rate(self) -> float | None:
        """The share of scored answers that passed, ``None`` when none was scored."""
        return self.passed / self.count if self.count else None

    @property
    def check_means(self) -> dict[str, float]:
        """Each check's mean score over the answers it applied to; checks that applied
        to none are absent."""
        return {
            check: self.check_sums.get(check, 0.0) / applied
            for check, applied in self.check_counts.items()
            if applied
        }

    def __add__(self, other: QualityRollup) -> QualityRollup:
        """The sum of two roll-ups of the same minute, entry, model and test;
        ``ValueError`` otherwise."""
        key = (self.minute, self.entry_key, self.model, self.test)
        if key != (other.minute, other.entry_key, other.model, other.test):
            raise ValueError(
                "only roll-ups of the same minute, entry_key, model and test can be added"
            )
        return QualityRollup.fold(
            [self, other],
            minute=self.minute,
            entry_key=self.entry_key,
            model=self.model,
            test=self.test,
        )

    @classmethod
    def fold(
        cls,
        rollups: Iterable[QualityRollup],
        *,
        minute: datetime,
        entry_key: str,
        model: str = "",
        test: str = "",
    ) -> QualityRollup:
        """The sum of ``rollups``, whatever their minutes, entries, models and tests,
        labelled with the given ones: an entry's or a model's quality over a window, or
        a test arm's. No roll-ups give zeros."""
        check_sums: dict[str, float] = {}
        check_counts: dict[str, int] = {}
        flags: dict[str, int] = {}
        count = passed = fatal = 0
        score_sum = score_sq_sum = judge_cost_usd = 0.0
        for rollup in rollups:
            count += rollup.count
            passed += rollup.passed
            fatal += rollup.fatal
            score_sum += rollup.score_sum
            score_sq_sum += rollup.score_sq_sum
            judge_cost_usd += rollup.judge_cost_usd
            for check, total in rollup.check_sums.items():
                check_sums[check] = check_sums.get(check, 0.0) + total
            for check, applied in rollup.check_counts.items():
                check_counts[check] = check_counts.get(check, 0) + applied
            for flag, flagged in rollup.flags.items():
                flags[flag] = flags.get(flag, 0) + flagged
        return cls(
            minute=minute,
            entry_key=entry_key,
            model=model,
            test=test,
            count=count,
            score_sum=score_sum,
            score_sq_sum=score_sq_sum,
            passed=passed,
            fatal=fatal,
            check_sums=check_sums,
            check_counts=check_counts,
            flags=flags,
            judge_cost_usd=judge_cost_usd,
        )


class QualityAlert(BaseModel, frozen=True):
    """An entry's (or one of its models') answers that got worse: the mean score over the
    window starting ``window_start`` fell more than ``drop`` below the baseline's.

    ``model`` is ``""`` for the entry as a whole. One per entry, model and window:
    ``Store.add_quality_alert`` records only the first, so exactly one process sends it.
    ``at`` is when it was found; ``window_mean`` and ``window_count`` are the window's
    mean score and scored answers, ``baseline_mean`` and ``baseline_count`` the
    baseline's, and ``drop`` the configured drop that was crossed.
    """

    entry_key: str
    model: str = ""
    window_start: UTCDateTime
    at: UTCDateTime
    window_mean: float
    baseline_mean: float
    window_count: int = Field(ge=0)
    baseline_count: int = Field(ge=0)
    drop: float
    detail: str = ""


@contextmanager
def decoding(what: str) -> Iterator[None]:
    """Turn a ``ValueError`` from parsing a stored ``what`` into a ``StoreError``.

    Stored rows that no longer parse are the store's problem, not the caller's.
    """
    try:
        yield
    except ValueError as exc:
        raise StoreError(f"a stored {what} is corrupt: {exc}") from exc
