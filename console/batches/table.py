"""What the batches table shows of each batch, worked out once per row.

The markup and wording are ``console/batches/row.html`` (the row, and the bar that a
batch's page shows too). The table is re-fetched every two seconds while a batch is in
flight, and Django's template engine spends more on a row's filters, URL reversals and
computed properties than the rest of the request together; plain values keep the
partial to substitutions (a third of the cost), and a row is a value, so one already
drawn (an ended batch's never changes) is not drawn again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils.autoreload import file_changed
from django.utils.safestring import SafeString

from llmopt.store import BatchRecord

from .progress import BatchProgress


@dataclass(frozen=True, slots=True)
class Bar:
    """A batch's progress bar: ``unknown`` while running with no pace to estimate by,
    ``estimated`` at ``percent`` by the entry's recent pace, else ``counted``: ``done``
    of ``total`` (``percent`` of it)."""

    kind: Literal["unknown", "estimated", "counted"]
    percent: int
    done: int
    total: int


def bar_of(progress: BatchProgress) -> Bar:
    if progress.unknown:
        return Bar("unknown", 0, progress.done, progress.total)
    estimated = progress.estimated_percent
    if estimated is not None:
        return Bar("estimated", estimated, progress.done, progress.total)
    return Bar("counted", progress.percent, progress.done, progress.total)


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One row of the batches table; ``cost`` is ``None`` until the results are collected."""

    id: str
    url: str
    provider_batch_id: str | None
    entry_key: str
    status: str
    in_flight: bool
    bar: Bar
    elapsed: str
    eta: str
    cost: str | None
    created: str


def batch_row(record: BatchRecord, progress: BatchProgress, detail_url: str) -> BatchRow:
    """``record`` as a row of the batches table; ``detail_url`` + id is its page."""
    cost = record.cost_estimate_usd
    return BatchRow(
        id=record.id,
        url=f"{detail_url}{record.id}/",
        provider_batch_id=record.provider_batch_id,
        entry_key=record.entry_key,
        status=record.status.value,
        in_flight=progress.in_flight,
        bar=bar_of(progress),
        elapsed=progress.elapsed_text,
        eta=progress.eta_text,
        cost=None if cost is None else f"{cost:.4f}",
        created=record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
    )


@lru_cache(maxsize=4 * 1024)  # a few pages of rows, under a kilobyte each
def drawn(row: BatchRow) -> SafeString:
    """``row`` as ``row.html``'s ``batch-row`` draws it."""
    return SafeString(render_to_string("console/batches/row.html#batch-row", {"row": row}))


@receiver(file_changed)
def _redraw_after_an_edit(**kwargs: Any) -> None:
    """``runserver`` keeps running when a template changes: draw rows anew from it."""
    drawn.cache_clear()
