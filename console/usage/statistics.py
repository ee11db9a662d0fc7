"""The numbers behind the Statistics and Overview pages, and the API's statistics and monitoring.

Everything is summed by the store (``Store.usage_summary`` over hourly roll-ups plus
the unfolded tail), so a view reads the rows it shows: a 30-day series is 30 rows,
totals are one row per entry, never the 3,600 hourly rows of five entries. Only "the
last five minutes" reads minute roll-ups, a handful of them.

==========  =================  ==============
range       series bucket      points
==========  =================  ==============
``24h``     hour               24
``7d``      hour               168
``30d``     day (UTC)          30
==========  =================  ==============
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from llmopt.store import (
    BATCHES_IN_FLIGHT,
    USAGE_COUNTERS,
    BatchRecord,
    BatchStatus,
    BudgetAlert,
    CircuitRecord,
    CircuitState,
    Store,
    UsageRollup,
)

RangeName = Literal["24h", "7d", "30d"]

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Window:
    """How far back a range looks and how wide each point of its series is."""

    span: timedelta
    bucket: timedelta


RANGES: dict[str, Window] = {
    "24h": Window(span=24 * HOUR, bucket=HOUR),
    "7d": Window(span=7 * DAY, bucket=HOUR),
    "30d": Window(span=30 * DAY, bucket=DAY),
}
DEFAULT_RANGE: RangeName = "24h"
RECENT = timedelta(minutes=5)
ALERTS_SHOWN = 5


@dataclass(slots=True)
class Totals:
    """Summed roll-up counters, and the rates and savings derived from them."""

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

    def add(self, row: UsageRollup) -> None:
        # Every roll-up counter, by name: one UsageRollup gains that Totals lacks fails here.
        for name in USAGE_COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(row, name))

    def merge(self, other: Totals) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @classmethod
    def of(cls, rows: Iterable[UsageRollup]) -> Totals:
        totals = cls()
        for row in rows:
            totals.add(row)
        return totals

    @property
    def standard_calls(self) -> int:
        """Calls sent without any optimization (all of them while rolled back)."""
        return self.calls - self.optimized_calls

    @property
    def savings_usd(self) -> float:
        return self.baseline_cost_usd - self.cost_usd

    @property
    def prompt_tokens(self) -> int:
        """All input: uncached, written to the cache and read from it."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    @property
    def cache_hit_rate(self) -> float | None:
        """Share of input tokens read from the cache; ``None`` when there was no input."""
        prompt = self.prompt_tokens
        return self.cache_read_tokens / prompt if prompt else None

    @property
    def unread_write_tokens(self) -> int:
        """Tokens of cache writes (5 m and 1 h) found to have expired without a read."""
        return self.unread_write_tokens_5m + self.unread_write_tokens_1h

    @property
    def unread_write_share(self) -> float | None:
        """What the writes never read cost, as a share of all cache-write spend; ``None``
        when nothing was spent on writes. The unread writes are counted when a later call
        finds them expired, so a range's share may include writes paid for before it."""
        return self.unread_write_cost_usd / self.write_cost_usd if self.write_cost_usd else None

    @property
    def cache_hit_potential(self) -> float | None:
        """Share of the input the cache planner saw that sat under a breakpoint, by its
        own estimate (the migration guide's ``cache_hit_potential``); ``None``: no input."""
        estimated = self.estimated_input_tokens
        return self.estimated_cached_tokens / estimated if estimated else None


@dataclass(frozen=True, slots=True)
class Point:
    """One bucket of a series: its start and what was used in it."""

    start: datetime
    totals: Totals


@dataclass(frozen=True, slots=True)
class Statistics:
    """A range's totals, overall and per entry, and its series (every bucket, empty ones too)."""

    range: str
    bucket: timedelta
    start: datetime
    end: datetime
    entry_key: str | None
    totals: Totals
    points: list[Point]
    per_entry: list[tuple[str, Totals]]


def _hour_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _day_start(now: datetime) -> datetime:
    return _hour_start(now).replace(hour=0)


def bounds(range_name: str, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` of ``range_name`` up to and including ``now``: whole buckets, so
    the Statistics page, ``/api/statistics`` and ``/api/monitoring`` sum the same rows.

    Raises ``KeyError`` for an unknown range.
    """
    window = RANGES[range_name]
    daily = window.bucket == DAY
    end = (_day_start(now) if daily else _hour_start(now)) + window.bucket
    return end - window.span, end


def per_entry(store: Store, *, range_name: str, now: datetime) -> dict[str, Totals]:
    """Each entry's totals over ``range_name`` (entries without usage are absent).

    Raises ``KeyError`` for an unknown range and ``StoreError`` when the store fails.
    """
    start, end = bounds(range_name, now)
    return {
        row.entry_key: Totals.of([row])
        for row in store.usage_summary(start=start, end=end, by_entry=True)
    }


def statistics(
    store: Store, *, range_name: str, now: datetime, entry_key: str | None = None
) -> Statistics:
    """The statistics of ``range_name`` (a key of ``RANGES``) up to and including ``now``.

    Raises ``KeyError`` for an unknown range and ``StoreError`` when the store fails.
    """
    window = RANGES[range_name]
    daily = window.bucket == DAY
    start, end = bounds(range_name, now)
    buckets = [start + i * window.bucket for i in range(window.span // window.bucket)]
    series = {at: Totals() for at in buckets}
    # Two reads the store sums: one row per bucket, one per entry. A single read per
    # bucket *and* entry would serve both, but five entries make five times the rows,
    # and building rows costs more than summing (7 days: 27.8 ms against ~9 ms).
    for row in store.usage_summary(
        start=start, end=end, bucket="day" if daily else "hour", entry_key=entry_key
    ):
        series[row.minute].add(row)
    per_entry = {
        row.entry_key: Totals.of([row])
        for row in store.usage_summary(start=start, end=end, by_entry=True, entry_key=entry_key)
    }
    overall = Totals()
    for totals in per_entry.values():
        overall.merge(totals)
    return Statistics(
        range=range_name,
        bucket=window.bucket,
        start=start,
        end=end,
        entry_key=entry_key,
        totals=overall,
        points=[Point(start=at, totals=series[at]) for at in buckets],
        per_entry=sorted(per_entry.items()),
    )


@dataclass(frozen=True, slots=True)
class Live:
    """The Overview's live part: cheap enough to refresh every few seconds.

    ``budget_alerts`` are the thresholds crossed in the periods running now (today's
    for day budgets, this month's for month budgets), newest first; ``circuits`` the
    entries whose circuit is not plainly closed (open, half-open or forced)."""

    today: Totals
    recent: Totals
    active_batches: int
    budget_alerts: list[BudgetAlert] = field(default_factory=list)
    circuits: list[CircuitRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Overview:
    """The Overview page: the live part plus this month and the last day's trouble."""

    live: Live
    month: Totals
    trouble: list[tuple[str, Totals]] = field(default_factory=list)
    failed_batches: list[BatchRecord] = field(default_factory=list)


def live(store: Store, *, now: datetime, today: Totals | None = None) -> Live:
    """Today's totals (UTC), calls of the last five minutes, and batches in flight."""
    if today is None:
        today = Totals.of(store.usage_summary(start=_day_start(now), end=_hour_start(now) + HOUR))
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    # The current minute counts as one of the five: it is the liveliest.
    end = minute + timedelta(minutes=1)
    recent = Totals.of(store.usage(start=end - RECENT, end=end))
    day = _day_start(now)
    current = {day, day.replace(day=1)}
    alerts = store.list_budget_alerts(since=day.replace(day=1), limit=ALERTS_SHOWN * 4)
    return Live(
        today=today,
        recent=recent,
        active_batches=store.count_batches(statuses=BATCHES_IN_FLIGHT),
        budget_alerts=[a for a in alerts if a.period_start in current][:ALERTS_SHOWN],
        circuits=[
            c
            for _, c in sorted(store.circuits().items())
            if c.forced is not None or c.state is not CircuitState.CLOSED
        ],
    )


def overview(store: Store, *, now: datetime, failed_batches: int = 5) -> Overview:
    """Everything the Overview page shows, from the store's usage sums and the ledger."""
    end = _hour_start(now) + HOUR
    trouble_start = end - DAY
    month = Totals.of(store.usage_summary(start=_day_start(now).replace(day=1), end=end))
    today = Totals.of(store.usage_summary(start=_day_start(now), end=end))
    trouble = {
        row.entry_key: Totals.of([row])
        for row in store.usage_summary(start=trouble_start, end=end, by_entry=True)
    }
    return Overview(
        live=live(store, now=now, today=today),
        month=month,
        trouble=[(key, t) for key, t in sorted(trouble.items()) if t.errors or t.fallbacks],
        failed_batches=store.list_batches(
            statuses=[BatchStatus.FAILED], limit=failed_batches, with_requests=False
        ),
    )
