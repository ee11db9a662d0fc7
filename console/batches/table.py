"""The rows of the batches table, rendered in Python.

The table is re-fetched every two seconds while a batch is in flight, and Django's
template engine spends more on a row's eighteen variables and filters than the rest of
the request together; ``format_html`` escapes the same values at a third of the cost.
The table's header, empty state and pager stay in ``console/batches/list.html``.
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from llmopt.store import BatchRecord

from .progress import BatchProgress

_IN_FLIGHT = mark_safe(' class="in-flight"')
_NO_COST = mark_safe('<span class="muted">unknown until collected</span>')


def batch_row(record: BatchRecord, progress: BatchProgress, detail_url: str) -> SafeString:
    """``record`` as one ``<tr>`` of the batches table; ``detail_url`` + id is its page."""
    cost = record.cost_estimate_usd
    return format_html(
        '<tr id="batch-{id}"{in_flight}>'
        '<td><a href="{url}{id}/"><code>{id}</code></a>'
        '<div class="muted small">{provider_id}</div></td>'
        "<td><code>{entry}</code></td>"
        '<td><span class="batch-status {status}">{status}</span></td>'
        "<td>{bar}</td><td>{elapsed}</td><td>{eta}</td><td>{cost}</td><td>{created}</td></tr>",
        id=record.id,
        in_flight=_IN_FLIGHT if progress.in_flight else "",
        url=detail_url,
        provider_id=record.provider_batch_id or "not at the provider yet",
        entry=record.entry_key,
        status=record.status.value,
        bar=_bar(progress),
        elapsed=progress.elapsed_text,
        eta=progress.eta_text,
        cost=_NO_COST if cost is None else f"${cost:.4f}",
        created=record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
    )


def _bar(progress: BatchProgress) -> SafeString:
    if progress.unknown:
        return format_html(
            '<div class="batch-bar unknown"><progress max="100"></progress>'
            '<span class="batch-bar-text">no estimate yet · {total} requests</span></div>',
            total=progress.total,
        )
    estimated = progress.estimated_percent
    if estimated is not None:
        return format_html(
            '<div class="batch-bar estimated"><progress max="100" value="{p}">{p}%</progress>'
            '<span class="batch-bar-text">≈{p}% (by pace) · {done} / {total}</span></div>',
            p=estimated,
            done=progress.done,
            total=progress.total,
        )
    text = (
        f"{progress.done} / {progress.total} ({progress.percent}%)"
        if progress.total
        else "not started"
    )
    return format_html(
        '<div class="batch-bar"><progress max="{total}" value="{done}">{p}%</progress>'
        '<span class="batch-bar-text">{text}</span></div>',
        total=progress.total or 1,
        done=progress.done,
        p=progress.percent,
        text=text,
    )
