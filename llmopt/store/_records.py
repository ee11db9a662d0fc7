"""What the store keeps: documents, audit records, batches, usage roll-ups, results and
the recent cache plans.

Every datetime is timezone-aware and UTC: naive datetimes are rejected rather than
guessed at, and aware ones are converted. In JSON every datetime has one fixed-width
form (``2025-01-31T09:05:00.000000+00:00``) so that stored strings sort like the
instants they stand for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, PlainSerializer, field_validator

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
PLANNER_STATE_KEPT = timedelta(days=1)
"""How long ``Store.put_planner_states`` keeps the state of a process that stopped writing."""
"""How many of an entry's cache plans ``Store.add_plans`` keeps by default: the newest."""


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


@contextmanager
def decoding(what: str) -> Iterator[None]:
    """Turn a ``ValueError`` from parsing a stored ``what`` into a ``StoreError``.

    Stored rows that no longer parse are the store's problem, not the caller's.
    """
    try:
        yield
    except ValueError as exc:
        raise StoreError(f"a stored {what} is corrupt: {exc}") from exc
