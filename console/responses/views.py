"""The Responses page: the response cache's statistics per entry over the last day
(live), each entry's settings (edited with the core's rules, optimistically, audited as
``responses.update``), and invalidation for operators (audited as
``responses.invalidate``, with how many answers went).

One view serves the page and its live fragment (``request.htmx``): the statistics,
re-rendered at each poll. Saving and invalidating are POSTs to their own URLs, which
redirect back on success and render the page with the form's problems otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from llmopt.config import AIConfigDocument, load_document
from llmopt.errors import ConfigError, RecordNotFound, StoreError
from llmopt.killswitch import read_kill_switch
from llmopt.responses import EntryStats
from llmopt.store import Store

from ..roles import EDIT, OPERATE, VIEW
from ..store import get_store
from ..web.access import AuthedRequest, requires
from ..web.polling import Poll
from ..web.saving import posted_entry, save_form
from .edit import ALL_ENTRIES, invalidate_answers, update_response_cache
from .forms import InvalidateForm, ResponseSettingsForm
from .overview import STATS_HOURS, EntryResponses, entry_responses, read_stats

logger = logging.getLogger("console.responses")

PAGE = "console/responses/page.html"
RESPONSES_LIVE = Poll(visible="5s", hidden="60s")


def _stats(store: Store) -> tuple[dict[str, EntryStats], str]:
    """The cache's statistics, or none and why they cannot be read."""
    try:
        return read_stats(store), ""
    except Exception as exc:  # the backends' errors (sqlite3, redis) share no base
        logger.exception("responses: the response cache cannot be read")
        return {}, f"{type(exc).__name__}: {exc}"


def _live_context(store: Store, document: AIConfigDocument) -> dict[str, Any]:
    stats, stats_error = _stats(store)
    rows = entry_responses(document, stats)
    return {
        "rows": rows,
        "stats_error": stats_error,
        "hours": STATS_HOURS,
        "saved_total": sum(row.stats.saved_usd for row in rows),
        "kill_switch": read_kill_switch(store),
        "poll": RESPONSES_LIVE,
        "live_url": reverse("responses"),
    }


def _page(
    request: AuthedRequest,
    store: Store,
    *,
    bound: ResponseSettingsForm | None = None,
    invalidate: InvalidateForm | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    """The whole page; ``bound`` replaces its entry's settings form (with its problems)."""
    try:
        document = load_document(store)
        live = _live_context(store, document)
    except StoreError as exc:
        logger.error("responses: store unreadable: %s", exc)
        return render(request, PAGE, {"store_error": str(exc)}, status=503)
    rows: list[EntryResponses] = live["rows"]
    editable = [row for row in rows if row.in_document]
    forms = []
    for index, row in enumerate(editable, start=1):
        if bound is not None and bound.data.get("entry") == row.entry_key:
            form = bound
        else:
            initial = ResponseSettingsForm.initial_for(
                row.entry_key, row.settings, document.revision
            )
            form = ResponseSettingsForm(initial=initial, auto_id=f"id_{index}_%s")
        forms.append((index, row, form))
    context = {
        **live,
        "document": document,
        "settings_forms": forms,
        "invalidate_form": invalidate or InvalidateForm(),
        "entry_keys": [row.entry_key for row in rows],
        "models": sorted({row.model for row in editable if row.model}),
        "all_entries": ALL_ENTRIES,
        "can_edit": request.user.has_perm(EDIT),
        "can_operate": request.user.has_perm(OPERATE),
        "notice": notice,
    }
    return render(request, PAGE, context, status=status)


@requires(VIEW)
@require_GET
@vary_on_headers("HX-Request")
def responses(request: AuthedRequest) -> HttpResponse:
    """The Responses page, or (for htmx) its live statistics."""
    store = get_store()
    if request.htmx:
        try:
            context = _live_context(store, load_document(store))
        except StoreError as exc:
            logger.error("responses: store unreadable: %s", exc)
            return HttpResponse(status=204)  # keep what is shown; the next poll retries
        return render(request, f"{PAGE}#responses-live", context)
    return _page(request, store)


@requires(EDIT)
@require_POST
def responses_settings(request: AuthedRequest) -> HttpResponse:
    """Save one entry's settings: checked by the core (422 beside the field, nothing
    written), refused when stale (409), audited as ``responses.update``."""
    store = get_store()
    try:
        key, index = posted_entry(request, store)
    except StoreError:
        return _page(request, store, status=503)  # says the store cannot be read
    form = ResponseSettingsForm(request.POST, auto_id=f"id_{index}_%s")
    if not form.is_valid():
        return _page(request, store, bound=form, status=422)
    return save_form(
        request,
        form,
        lambda: update_response_cache(
            store,
            key,
            form.settings(),
            expected_revision=form.cleaned_data["revision"],
            actor=request.user.get_username(),
            reason=form.cleaned_data["reason"],
        ),
        failed=lambda **shown: _page(request, store, bound=form, **shown),
        saved=f"Saved the response cache settings of {key}.",
        then="responses",
    )


@requires(OPERATE)
@require_POST
def responses_invalidate(request: AuthedRequest) -> HttpResponse:
    """Drop stored answers by entry, model and question pattern, with a reason;
    audited (``responses.invalidate``) with how many went."""
    store = get_store()
    form = InvalidateForm(request.POST)
    if not form.is_valid():
        return _page(request, store, invalidate=form, status=422)
    data = form.cleaned_data
    try:
        removed = invalidate_answers(
            store,
            entry=data["entry"],
            model=data["model"],
            pattern=data["pattern"],
            actor=request.user.get_username(),
            reason=data["reason"],
        )
    except RecordNotFound as exc:
        form.add_error("entry", str(exc))
        return _page(request, store, invalidate=form, status=422)
    except ConfigError as exc:
        for problem in exc.problems:
            form.add_error(problem.field if problem.field in form.fields else None, problem.message)
        return _page(request, store, invalidate=form, status=422)
    which = "every entry" if data["entry"] == ALL_ENTRIES else data["entry"]
    messages.success(
        request,
        f"Removed {removed} stored answer{'' if removed == 1 else 's'} of {which}.",
    )
    return redirect("responses")
