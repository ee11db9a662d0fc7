"""One row of the batches table and its bar, as the list page and its polled fragment show
it (``console/batches/row.html``; a batch's page shows the same bar)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.template.loader import render_to_string
from django.utils.autoreload import file_changed

from console.batches.progress import BatchProgress, progress_of
from console.batches.table import batch_row, drawn
from llmopt.store import BatchRecord, BatchStatus

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def row(status: BatchStatus, counts: dict[str, int], **fields: object) -> BatchRecord:
    return BatchRecord(
        id="batch_1",
        provider="anthropic",
        model="claude-sonnet-4-6",
        entry_key=str(fields.pop("entry_key", "main")),
        status=status,
        request_counts={"processing": 0, "succeeded": 0, **counts},
        created_at=T0,
        **fields,  # type: ignore[arg-type]
    )


def rendered(record: BatchRecord, progress: BatchProgress) -> str:
    """What the list shows for ``record``: its row, drawn (or already drawn)."""
    return drawn(batch_row(record, progress, "/b/"))


def cells(html: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", html)


def test_a_batch_in_flight_shows_its_estimated_bar_and_no_cost_yet() -> None:
    record = row(
        BatchStatus.IN_PROGRESS,
        {"processing": 40},
        submitted_at=T0,
        provider_batch_id="msgbatch_1",
    )
    # The entry's recent pace: 40 requests in 4 minutes; one minute has passed.
    html = rendered(record, progress_of(record, T0 + timedelta(minutes=1), rate=1 / 6))

    assert html.startswith('<tr id="batch-batch_1" class="in-flight">')
    assert '<a href="/b/batch_1/"><code>batch_1</code></a>' in html
    assert '<progress max="100" value="25">25%</progress>' in html
    assert "≈25% (by pace) · 0 / 40" in html
    assert cells(html)[-4:-1] == [
        "1m 00s",
        "3m 00s",
        '<span class="muted">unknown until collected</span>',
    ]


def test_an_ended_batch_shows_its_counts_and_cost_and_no_live_class() -> None:
    record = row(
        BatchStatus.ENDED,
        {"succeeded": 3, "errored": 1},
        submitted_at=T0,
        ended_at=T0 + timedelta(seconds=90),
        cost_estimate_usd=0.0125,
    )
    html = rendered(record, progress_of(record, T0 + timedelta(hours=1)))

    assert html.startswith('<tr id="batch-batch_1">')
    assert '<progress max="4" value="4">100%</progress>' in html and "4 / 4 (100%)" in html
    assert "not at the provider yet" in html
    assert cells(html)[-4:] == ["1m 30s", "—", "$0.0125", "2025-05-01 12:00:00"]


def test_an_entrys_first_batch_says_it_has_no_estimate_yet_instead_of_zero_percent() -> None:
    record = row(
        BatchStatus.IN_PROGRESS, {"processing": 22}, submitted_at=T0, provider_batch_id="m"
    )
    html = rendered(record, progress_of(record, T0 + timedelta(minutes=1)))

    assert "no estimate yet · 22 requests" in html
    assert '<progress max="100"></progress>' in html  # indeterminate, not a bar stuck at 0
    assert "0%" not in html


def test_a_batch_with_no_requests_counted_yet_is_not_started() -> None:
    record = row(BatchStatus.PENDING, {})
    html = rendered(record, progress_of(record, T0))
    assert '<progress max="1" value="0">0%</progress>' in html and "not started" in html


def test_every_value_is_escaped() -> None:
    record = row(BatchStatus.ENDED, {"succeeded": 1}, entry_key="<script>alert(1)</script>")
    html = rendered(record, progress_of(record, T0))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_row_already_drawn_is_not_drawn_again_and_a_changed_one_is() -> None:
    ended = row(
        BatchStatus.ENDED, {"succeeded": 3}, cost_estimate_usd=0.5, ended_at=T0 + timedelta(1)
    )
    running = row(BatchStatus.IN_PROGRESS, {"processing": 3})
    drawn.cache_clear()

    first = rendered(ended, progress_of(ended, T0 + timedelta(days=2)))
    later = rendered(ended, progress_of(ended, T0 + timedelta(days=3)))
    running_now = rendered(running, progress_of(running, T0 + timedelta(minutes=1)))
    running_later = rendered(running, progress_of(running, T0 + timedelta(minutes=2)))

    assert later is first  # an ended batch's row does not change with the clock
    assert running_later != running_now  # a running one's does: its elapsed time
    assert (drawn.cache_info().hits, drawn.cache_info().misses) == (1, 3)
    assert first == render_to_string(
        "console/batches/row.html#batch-row",
        {"row": batch_row(ended, progress_of(ended, T0), "/b/")},
    )
    file_changed.send(sender=None, file_path=Path("templates/console/batches/row.html"))
    assert drawn.cache_info().currsize == 0  # runserver kept running: draw from the edit
