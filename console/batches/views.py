"""The Batches pages: the live ledger list, one batch's detail, and cancel.

Each page view also serves its own htmx fragment (``request.htmx``): the list's table
and the detail's live part, re-fetched by polling while something shown is in flight
and answered with 286 (htmx's "stop polling") once nothing is. The list's first page
keeps a slow poll even then, so a batch submitted later appears without a reload.
Cancel is a POST that always redirects back to the batch's page (with a message saying
what was done or why not), so no page ever shows, reloads or polls the action's URL.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from llmopt.config import REASON_MAX_LENGTH, free_text_problem, load_document
from llmopt.errors import RecordNotFound, StoreError
from llmopt.store import BATCHES_IN_FLIGHT, BatchRecord, BatchStatus

from ..roles import OPERATE, VIEW
from ..store import get_store
from ..web import polling
from ..web.access import AuthedRequest, requires
from .cancel import SEND_REST_STANDARD, CancelRefused, request_cancel, warm_up
from .progress import (
    RESULT_TYPES,
    cancel_outcome,
    progress_of,
    recent_cost_per_request,
    recent_rate,
)
from .table import bar_of, batch_row, drawn

logger = logging.getLogger("console.batches")

LIST_PAGE = "console/batches/list.html"
DETAIL_PAGE = "console/batches/detail.html"
PAGE_SIZE = 50
HISTORY = 10  # ended batches per entry that the ETA's pace is taken from
ACTIVE = "active"  # the status filter for every in-flight status at once
STATUS_CHOICES = [
    (ACTIVE, "in flight"),
    *((s.value, s.value.replace("_", " ")) for s in BatchStatus),
]


def _statuses(value: str) -> list[BatchStatus] | None:
    """The statuses a ``status`` filter names; raises ``ValueError`` for an unknown one."""
    if not value:
        return None
    if value == ACTIVE:
        return sorted(BATCHES_IN_FLIGHT)
    try:
        return [BatchStatus(value)]
    except ValueError:
        choices = ", ".join(choice for choice, _ in STATUS_CHOICES)
        raise ValueError(f"status must be one of {choices}, not {value!r}") from None


# Past this the offset would overflow SQLite's integers; no ledger is that long.
MAX_PAGE = 10_000_000


def _page(value: str) -> int:
    try:
        page = int(value or 1)
    except ValueError:
        page = 0
    if not 1 <= page <= MAX_PAGE:
        raise ValueError(f"page must be a whole number from 1 to {MAX_PAGE:,}, not {value!r}")
    return page


def _entry_keys() -> list[str]:
    try:
        return [entry.key for entry in load_document(get_store()).entries]
    except StoreError:
        return []  # the filter still works as free text


@requires(VIEW)
@require_GET
@vary_on_headers("HX-Request")
def batches(request: AuthedRequest) -> HttpResponse:
    """Every batch, newest first, filtered by status and entry, 50 a page, live while in flight."""
    status = request.GET.get("status", "")
    entry = request.GET.get("entry", "")
    context: dict[str, object] = {"status": status, "entry": entry, "choices": STATUS_CHOICES}
    try:
        statuses = _statuses(status)
        page = _page(request.GET.get("page", ""))
    except ValueError as exc:
        context.update(filter_error=str(exc), rows=[], entry_keys=_entry_keys())
        return render(request, LIST_PAGE, context, status=400)
    store = get_store()
    entry_key = entry or None
    try:
        records = store.list_batches(
            statuses=statuses,
            entry_key=entry_key,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            with_requests=False,
        )
        total = store.count_batches(statuses=statuses, entry_key=entry_key)
    except StoreError as exc:
        logger.error("batches: store unreadable: %s", exc)
        context.update(store_error=str(exc), rows=[])
        return render(request, LIST_PAGE, context, status=503)
    now = timezone.now()
    in_flight = {r.entry_key for r in records if r.status in BATCHES_IN_FLIGHT}
    rates = _recent_rates(in_flight)
    detail_url = reverse("batch-detail", args=["-"])[:-2]  # one reverse, not one a row
    rows = [
        drawn(batch_row(r, progress_of(r, now, rate=rates.get(r.entry_key)), detail_url))
        for r in records
    ]
    live = bool(in_flight)
    # Nothing in flight: only the first page can change, when a batch is submitted.
    poll = polling.BATCH_LIVE if live else polling.NEW_BATCHES if page == 1 else None
    pages = max(1, -(-total // PAGE_SIZE))
    query = {k: v for k, v in (("status", status), ("entry", entry)) if v}
    context.update(
        rows=rows,
        live=live,
        poll=poll,
        total=total,
        page=page,
        pages=pages,
        newer=urlencode({**query, "page": page - 1}) if page > 1 else "",
        older=urlencode({**query, "page": page + 1}) if page < pages else "",
    )
    if request.htmx:
        response = render(request, f"{LIST_PAGE}#batch-table", context)
        if poll is None:
            response.status_code = HTMX_STOP_POLLING
        return response
    context["entry_keys"] = _entry_keys()
    return render(request, LIST_PAGE, context)


def _recent_rates(entry_keys: set[str]) -> dict[str, float]:
    """Each entry's recent pace (see ``recent_rate``); one small query per entry in flight."""
    rates: dict[str, float] = {}
    for key in entry_keys:
        rate = recent_rate(_recently_ended(key))
        if rate is not None:
            rates[key] = rate
    return rates


def _recently_ended(entry_key: str) -> list[BatchRecord]:
    return get_store().list_batches(
        statuses=[BatchStatus.ENDED], entry_key=entry_key, limit=HISTORY, with_requests=False
    )


def _batch_or_404(batch_id: str) -> BatchRecord:
    try:
        return get_store().get_batch(batch_id)
    except RecordNotFound as exc:
        raise Http404(f"there is no batch {batch_id}") from exc


def _render_detail(request: AuthedRequest, record: BatchRecord) -> HttpResponse:
    in_flight = record.status in BATCHES_IN_FLIGHT
    can_cancel = (
        request.user.has_perm(OPERATE)
        and record.status is BatchStatus.IN_PROGRESS
        and record.cancel is None
        and record.provider_batch_id is not None
    )
    ended = _recently_ended(record.entry_key) if in_flight else []
    progress = progress_of(record, timezone.now(), rate=recent_rate(ended))
    counts = [(kind, record.request_counts.get(kind, 0)) for kind in ("processing", *RESULT_TYPES)]
    context: dict[str, object] = {
        "batch": record,
        "progress": progress,
        "bar": bar_of(progress),
        "counts": counts,
        "request_total": len(record.requests),
        "can_cancel": can_cancel,
        "cancel_stage": _cancel_stage(record),
        "cancel_outcome": cancel_outcome(record),
        "poll": polling.BATCH_LIVE if progress.in_flight else None,
    }
    if can_cancel:
        not_done = record.request_counts.get("processing", 0) or len(record.requests)
        per_request = recent_cost_per_request(ended)
        context["not_done"] = not_done
        # The batch price is half the standard one: sending them now costs about twice.
        context["standard_estimate"] = (
            None if per_request is None else f"{2 * per_request * not_done:.4f}"
        )
        warm_up()
    if request.htmx:
        response = render(request, f"{DETAIL_PAGE}#batch-live", context)
        if not progress.in_flight:
            response.status_code = HTMX_STOP_POLLING
        return response
    return render(request, DETAIL_PAGE, context)


def _cancel_stage(record: BatchRecord) -> str:
    """Where an operator's cancel of a batch in flight is: ``asking`` the provider (it
    has not taken the cancel yet), ``canceling`` (it has), or ``""``."""
    if record.status not in BATCHES_IN_FLIGHT:
        return ""
    if record.status is BatchStatus.CANCELING:
        return "canceling"
    return "asking" if record.cancel is not None else ""


@requires(VIEW)
@require_GET
@vary_on_headers("HX-Request")
def batch_detail(request: AuthedRequest, batch_id: str) -> HttpResponse:
    """One batch: every field, counts per result type, its error, live progress, cancel."""
    return _render_detail(request, _batch_or_404(batch_id))


@requires(OPERATE)
@require_POST
def batch_cancel(request: AuthedRequest, batch_id: str) -> HttpResponse:
    """Cancel the batch (operators only), audited as ``batch.cancel``; back to its page.

    ``then=send_rest_standard`` has the requests the cancel stops sent at once at the
    standard price; otherwise they are not answered. Answers at once: the provider is
    asked in the background while the page shows the cancel's progress. A cancel the
    batch's state refuses also goes back to the page, with the reason as a message.
    """
    send_rest_standard = request.POST.get("then") == SEND_REST_STANDARD
    reason = request.POST.get("reason", "").strip()
    problem = free_text_problem(reason, field="The reason", max_length=REASON_MAX_LENGTH)
    if problem is not None:
        messages.error(request, f"Not cancelled: {problem}.")
        return redirect("batch-detail", batch_id=batch_id)
    try:
        request_cancel(
            get_store(),
            batch_id,
            actor=request.user.get_username(),
            reason=reason,
            send_rest_standard=send_rest_standard,
        )
    except RecordNotFound as exc:
        raise Http404(f"there is no batch {batch_id}") from exc
    except CancelRefused as exc:
        messages.error(request, f"Not cancelled: {exc}.")
        return redirect("batch-detail", batch_id=batch_id)
    if send_rest_standard:
        then = "the requests it stops are sent at once at the standard price"
    else:
        then = "the requests it stops will not be answered and nothing more is billed for them"
    messages.success(request, f"Cancelling {batch_id}: {then}.")
    return redirect("batch-detail", batch_id=batch_id)
