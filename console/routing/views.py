"""The Routing page: the document's ``routing`` settings (edited with the core's rules,
optimistically), each entry's circuit (forced by operators, audited), and, live, the
recent incidents, the last hour's statistics per entry and the recent decisions.

One view serves the page and its live fragments (``?part=``): ``state`` (circuits and
statistics, re-rendered at each poll), ``incidents`` and ``decisions``, which carry a
``?since=`` cursor (the newest id shown) and answer 204, swapping nothing, while
nothing newer has happened.
"""

from __future__ import annotations

import logging
from typing import Any, Literal
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from llmopt.config import AIConfigDocument, load_document
from llmopt.errors import ConfigError, ConflictError, RecordNotFound, StoreError
from llmopt.failover import CircuitBoard
from llmopt.killswitch import read_kill_switch
from llmopt.routing import update_routing
from llmopt.store import CircuitRecord, Store

from ..roles import EDIT, VIEW
from ..store import get_store
from ..web.access import AuthedRequest, requires
from ..web.polling import Poll
from .forms import ForceCircuitForm, RoutingForm
from .overview import (
    DECISIONS_SHOWN,
    INCIDENTS_SHOWN,
    entry_circuits,
    entry_stats,
    routing_settings,
    stored_routing,
)

logger = logging.getLogger("console.routing")

PAGE = "console/routing/page.html"
STATE_LIVE = Poll(visible="5s", hidden="60s")
EVENTS_LIVE = Poll(visible="3s", hidden="60s")
PARTS = ("state", "incidents", "decisions")
CONFLICT = (
    "The routing settings were changed by someone else after you opened this page; "
    "nothing was saved. Reload to see their change, then apply yours again."
)


def force_circuit(
    store: Store, entry_key: str, state: str | None, *, actor: str, reason: str
) -> CircuitRecord:
    """Force ``entry_key``'s circuit (``None`` clears the force), audited, with an incident.

    Raises ``RecordNotFound`` for a key that is no entry of the document. The page and
    the API both force through here; a board that is never started does no I/O but this.
    """
    load_document(store).entry(entry_key)
    forced: Literal["open", "closed"] | None = None
    if state in ("open", "closed"):
        forced = "open" if state == "open" else "closed"
    return CircuitBoard(store).force(entry_key, forced, actor=actor, reason=reason)


def _part_url(part: str, since: str = "") -> str:
    query = {"part": part, **({"since": since} if since else {})}
    return f"{reverse('routing')}?{urlencode(query)}"


def _state_context(store: Store, document: AIConfigDocument) -> dict[str, Any]:
    keys = [entry.key for entry in document.entries]
    return {
        "circuits": entry_circuits(store, keys),
        "stats": entry_stats(store, timezone.now(), keys),
        "kill_switch": read_kill_switch(store),
        "state_poll": STATE_LIVE,
        "state_url": _part_url("state"),
    }


def _incidents_context(store: Store) -> dict[str, Any]:
    incidents = store.list_incidents(limit=INCIDENTS_SHOWN)
    since = incidents[0].id if incidents else ""
    return {
        "incidents": incidents,
        "incidents_since": since,
        "incidents_url": _part_url("incidents", since),
        "events_poll": EVENTS_LIVE,
    }


def _decisions_context(store: Store) -> dict[str, Any]:
    decisions = store.recent_routing_decisions(limit=DECISIONS_SHOWN)
    since = decisions[0].id if decisions else ""
    return {
        "decisions": decisions,
        "decisions_since": since,
        "decisions_url": _part_url("decisions", since),
        "events_poll": EVENTS_LIVE,
    }


def _fragment(request: AuthedRequest, store: Store, part: str) -> HttpResponse:
    since = request.GET.get("since", "")
    if part == "state":
        context = _state_context(store, load_document(store))
    elif part == "incidents":
        context = _incidents_context(store)
        if since and since == context["incidents_since"]:
            return HttpResponse(status=204)  # nothing new: htmx swaps nothing
    else:
        context = _decisions_context(store)
        if since and since == context["decisions_since"]:
            return HttpResponse(status=204)
    context["can_edit"] = request.user.has_perm(EDIT)
    return render(request, f"{PAGE}#routing-{part}", context)


@requires(VIEW)
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def routing(request: AuthedRequest) -> HttpResponse:
    """The Routing page; POST saves the settings (editing permission), validated by the
    core, refused when stale (409) and audited as ``routing.update``."""
    store = get_store()
    part = request.GET.get("part", "")
    try:
        if request.htmx and request.method == "GET" and part:
            if part not in PARTS:
                return HttpResponseBadRequest(f"part must be one of {', '.join(PARTS)}")
            return _fragment(request, store, part)
        document = load_document(store)
    except StoreError as exc:
        logger.error("routing: store unreadable: %s", exc)
        return render(request, PAGE, {"store_error": str(exc)}, status=503)

    can_edit = request.user.has_perm(EDIT)
    settings, problems = routing_settings(document)
    stored = stored_routing(document)
    keys = [entry.key for entry in document.entries]
    notice = ""
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("editing routing needs the edit_flags permission")
        form = RoutingForm(request.POST, stored=stored, entry_keys=keys)
        if form.is_valid():
            try:
                update_routing(
                    store,
                    form.routing,
                    expected_revision=form.cleaned_data["revision"],
                    actor=request.user.get_username(),
                    reason=form.cleaned_data["reason"],
                )
            except ConflictError:
                notice = CONFLICT
                status = 409
            except ConfigError as exc:
                form.add_problems(exc)
                status = 422
            else:
                messages.success(request, "Saved the routing settings.")
                return redirect("routing")
        else:
            status = 422
    else:
        form = RoutingForm(
            initial=RoutingForm.initial_for(settings, stored, document.revision),
            stored=stored,
            entry_keys=keys,
        )
    context: dict[str, Any] = {
        "form": form,
        "settings": settings,
        "problems": problems,
        "entry_keys": keys,
        "can_edit": can_edit,
        "notice": notice,
        "document": document,
        **_state_context(store, document),
        **_incidents_context(store),
        **_decisions_context(store),
    }
    return render(request, PAGE, context, status=status)


@requires(EDIT)
@require_POST
def routing_circuit(request: AuthedRequest) -> HttpResponse:
    """Force an entry's circuit open or closed, or clear the force; audited
    (``circuit.force`` / ``circuit.release``) with an incident; back to the page."""
    form = ForceCircuitForm(request.POST)
    if not form.is_valid():
        if "state" in form.errors or "entry" in form.errors:
            return HttpResponseBadRequest("send an entry and a state: open, closed or clear")
        messages.error(request, f"Not changed: {form.errors['reason'][0]}")
        return redirect("routing")
    entry_key = form.cleaned_data["entry"]
    try:
        record = force_circuit(
            get_store(),
            entry_key,
            form.forced(),
            actor=request.user.get_username(),
            reason=form.cleaned_data["reason"],
        )
    except RecordNotFound as exc:
        raise Http404(str(exc)) from exc
    except (ConflictError, StoreError) as exc:
        messages.error(request, f"Not changed: {exc}.")
        return redirect("routing")
    messages.success(request, f"Circuit of {entry_key}: {record.reason}.")
    return redirect("routing")
