"""Progress, elapsed time and ETA of a batch, from its ledger record alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.batches.progress import human_duration, progress_of, recent_rate
from llmopt.store import BatchRecord, BatchStatus

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def record(status: BatchStatus = BatchStatus.IN_PROGRESS, **fields: object) -> BatchRecord:
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    counts.update(fields.pop("counts", {}))  # type: ignore[call-overload]
    return BatchRecord(
        id="b",
        provider="anthropic",
        model="claude-sonnet-4-6",
        entry_key="main",
        status=status,
        request_counts=counts,
        created_at=T0,
        submitted_at=fields.pop("submitted_at", T0),
        **fields,  # type: ignore[arg-type]
    )


def test_partial_counts_give_an_eta_from_the_batchs_own_rate() -> None:
    progress = progress_of(
        record(counts={"processing": 75, "succeeded": 20, "errored": 5}),
        T0 + timedelta(minutes=10),
    )
    assert (progress.done, progress.total, progress.percent) == (25, 100, 25)
    assert progress.eta == timedelta(minutes=30) and progress.eta_text == "30m 00s"
    assert progress.elapsed_text == "10m 00s" and progress.in_flight


def test_with_every_request_still_processing_the_eta_comes_from_the_recent_pace() -> None:
    batch = record(counts={"processing": 100})
    now = T0 + timedelta(minutes=4)
    assert progress_of(batch, now).eta is None
    assert progress_of(batch, now).eta_text == "—"
    # 100 requests at 0.1 a second take 1000 s; 240 s have gone.
    assert progress_of(batch, now, rate=0.1).eta == timedelta(seconds=760)
    assert progress_of(batch, T0 + timedelta(hours=1), rate=0.1).eta is None  # overdue


def test_while_the_provider_reports_nothing_done_the_bar_moves_by_time() -> None:
    batch = record(counts={"processing": 100})
    # 100 requests at 0.1 a second take 1000 s.
    at = [progress_of(batch, T0 + timedelta(seconds=s), rate=0.1) for s in (100, 500, 990)]
    assert [p.estimated_percent for p in at] == [10, 50, 99]
    assert progress_of(batch, T0 + timedelta(seconds=100)).estimated_percent is None  # no pace
    partial = record(counts={"processing": 75, "succeeded": 25})
    assert progress_of(partial, T0 + timedelta(minutes=1), rate=0.1).estimated_percent is None
    ended = record(BatchStatus.ENDED, counts={"succeeded": 100}, ended_at=T0)
    assert progress_of(ended, T0, rate=0.1).estimated_percent is None


def test_an_ended_batch_has_its_final_elapsed_time_and_no_eta() -> None:
    ended = record(
        BatchStatus.ENDED,
        counts={"succeeded": 8, "errored": 2},
        ended_at=T0 + timedelta(hours=2, minutes=5),
    )
    progress = progress_of(ended, T0 + timedelta(days=3), rate=1.0)
    assert (progress.percent, progress.eta, progress.in_flight) == (100, None, False)
    assert progress.elapsed_text == "2h 05m"


def test_a_batch_not_yet_submitted_shows_nothing_done_and_no_eta() -> None:
    pending = record(BatchStatus.PENDING, submitted_at=None)
    progress = progress_of(pending, T0 + timedelta(seconds=7), rate=1.0)
    assert (progress.total, progress.percent, progress.eta) == (0, 0, None)
    assert progress.elapsed_text == "7s"


def test_the_recent_pace_ignores_batches_cut_short_and_ones_without_times() -> None:
    full = record(BatchStatus.ENDED, counts={"succeeded": 60}, ended_at=T0 + timedelta(minutes=5))
    cut = record(
        BatchStatus.ENDED, counts={"succeeded": 1, "canceled": 99}, ended_at=T0 + timedelta(hours=1)
    )
    unsubmitted = record(BatchStatus.ENDED, submitted_at=None, counts={"succeeded": 5})
    assert recent_rate([full, cut, unsubmitted]) == pytest.approx(0.2)
    assert recent_rate([cut]) is None and recent_rate([]) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (61, "1m 01s"), (3600, "1h 00m"), (90_061, "1d 1h")],
)
def test_durations_read_in_their_two_largest_units(seconds: int, text: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == text
