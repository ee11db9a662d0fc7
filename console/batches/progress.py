"""How far a batch has got, as a person reads it: done of total, elapsed time and an ETA."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from llmopt.store import BATCHES_IN_FLIGHT, BatchRecord, BatchStatus

RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """One batch's progress at one moment; ``eta`` is ``None`` when it cannot be told."""

    total: int
    done: int
    elapsed: timedelta
    eta: timedelta | None
    in_flight: bool

    @property
    def percent(self) -> int:
        return 0 if self.total == 0 else self.done * 100 // self.total

    @property
    def estimated_percent(self) -> int | None:
        """How far the batch probably is, by time, while the provider reports nothing done.

        Anthropic moves requests out of ``processing`` only when the whole batch ends, so
        a bar of counts would sit at 0 % and jump; elapsed / (elapsed + ETA) moves while
        you watch. ``None`` when counts say more, or no ETA can be told. Never 100.
        """
        if not self.in_flight or self.done or self.eta is None:
            return None
        whole = (self.elapsed + self.eta).total_seconds()
        return min(99, int(self.elapsed.total_seconds() * 100 / whole)) if whole > 0 else None

    @property
    def unknown(self) -> bool:
        """Running, nothing reported done and no pace to go by (an entry's first batch):
        a bar at 0 % would look like a stall, so none is drawn."""
        return self.in_flight and self.total > 0 and self.done == 0 and self.eta is None

    @property
    def elapsed_text(self) -> str:
        return human_duration(self.elapsed)

    @property
    def eta_text(self) -> str:
        return "—" if self.eta is None else human_duration(self.eta)


def progress_of(record: BatchRecord, now: datetime, *, rate: float | None = None) -> BatchProgress:
    """``record``'s progress at ``now``, with an ETA when one can be told.

    Only ``request_counts`` is read (never the ``requests`` map, which lists leave
    out). Anthropic keeps every request ``processing`` until the whole batch ends, so
    mid-flight the ETA comes from ``rate`` (requests a second this entry's recent
    batches ran at, see :func:`recent_rate`); a provider that reports partial counts
    gets the batch's own rate so far. Without either, or once overdue, no ETA.
    """
    counts = record.request_counts
    total = sum(counts.get(kind, 0) for kind in ("processing", *RESULT_TYPES))
    processing = counts.get("processing", 0)
    done = total - processing
    in_flight = record.status in BATCHES_IN_FLIGHT
    started = record.submitted_at or record.created_at
    finished = record.ended_at if not in_flight and record.ended_at is not None else now
    elapsed = max(finished - started, timedelta(0))
    eta = None
    if in_flight and processing > 0 and record.submitted_at is not None:
        if done > 0 and elapsed > timedelta(0):
            eta = elapsed * processing / done
        elif rate:
            left = timedelta(seconds=total / rate) - elapsed
            eta = left if left > timedelta(0) else None
    return BatchProgress(total=total, done=done, elapsed=elapsed, eta=eta, in_flight=in_flight)


def recent_rate(ended: Iterable[BatchRecord]) -> float | None:
    """Requests a second over these ended batches (submitted to ended), or ``None``.

    Pass an entry's most recent ended batches: what they took is the best guess of
    what its batch in flight will take.
    """
    requests = 0
    seconds = 0.0
    for record in ended:
        if record.submitted_at is None or record.ended_at is None:
            continue
        counts = record.request_counts
        if counts.get("canceled", 0) or counts.get("expired", 0):
            continue  # cut short: says nothing about the pace
        requests += sum(counts.get(kind, 0) for kind in RESULT_TYPES)
        seconds += (record.ended_at - record.submitted_at).total_seconds()
    return requests / seconds if requests and seconds > 0 else None


def recent_cost_per_request(ended: Iterable[BatchRecord]) -> float | None:
    """What one answered request cost, at the batch price, over these ended batches, or
    ``None`` when none of them has both a known cost and an answered request."""
    cost = 0.0
    answered = 0
    for record in ended:
        succeeded = record.request_counts.get("succeeded", 0)
        if record.cost_estimate_usd is None or not succeeded:
            continue
        cost += record.cost_estimate_usd
        answered += succeeded
    return cost / answered if answered else None


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What cancelling an ended batch achieved: ``canceled`` requests it stopped, ``done``
    ones that had already ended otherwise (succeeded, errored or expired)."""

    canceled: int
    done: int
    succeeded: int


def cancel_outcome(record: BatchRecord) -> CancelOutcome | None:
    """For an ended batch that was cancelled (by an operator, or with requests that ended
    ``canceled``), what the cancel achieved; ``None`` otherwise."""
    if record.status is not BatchStatus.ENDED:
        return None
    counts = record.request_counts
    canceled = counts.get("canceled", 0)
    if record.cancel is None and not canceled:
        return None
    done = sum(counts.get(kind, 0) for kind in ("succeeded", "errored", "expired"))
    return CancelOutcome(canceled=canceled, done=done, succeeded=counts.get("succeeded", 0))


def human_duration(span: timedelta) -> str:
    """``"2d 3h"``, ``"1h 05m"``, ``"4m 09s"`` or ``"12s"``: the two largest units."""
    seconds = int(span.total_seconds())
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
