"""The configuration pages: every entry with its optimization state, one entry's flags,
and the emergency rollback (the kill switch beside the configuration)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from llmopt.config import capability_hints, load_document, update_entry_flags
from llmopt.errors import ConfigError, ConflictError, RecordNotFound, StoreError
from llmopt.killswitch import engage_kill_switch, read_kill_switch, release_kill_switch
from llmopt.store import PlanRecord, Store

from ..roles import EDIT, OPERATE, VIEW
from ..store import get_store
from ..web.access import AuthedRequest, requires
from .forms import FlagsForm, RollbackForm, flags_source
from .summaries import flag_places, optimization_summary

logger = logging.getLogger("console")

RECENT_PLANS_SHOWN = 10


@requires(VIEW)
@require_GET
def config_list(request: AuthedRequest) -> HttpResponse:
    """Every ``llm`` entry of the aiconfigs document, with its optimization state and problems."""
    store = get_store()
    try:
        document = load_document(store)
    except StoreError as exc:
        logger.error("config list: store unreadable: %s", exc)
        context: dict[str, object] = {"store_error": str(exc)}
        return render(request, "console/configuration/list.html", context, status=503)
    rows = [(entry, optimization_summary(entry)) for entry in document.entries]
    context = {
        "document": document,
        "rows": rows,
        "kill_switch": read_kill_switch(store),
    }
    return render(request, "console/configuration/list.html", context)


def _entry_url(key: str) -> str:
    return f"{reverse('config-edit')}?{urlencode({'key': key})}"


def _recent_plans(store: Store, key: str) -> tuple[list[PlanRecord], str]:
    """The entry's last plans, newest first, or none and why: the form works without them."""
    try:
        return store.recent_plans(key, limit=RECENT_PLANS_SHOWN), ""
    except StoreError as exc:
        logger.warning("entry %s: recent cache plans unreadable: %s", key, exc)
        return [], str(exc)


@requires(VIEW)
@require_http_methods(["GET", "POST"])
def config_edit(request: AuthedRequest) -> HttpResponse:
    """One entry's flags: the core's validation inline, keys masked, stale saves refused.

    The form shows the flags from every place the entry keeps them (flat, or the
    migration guide's nested block); saving writes each flag back where it is kept.
    Below it, the entry's last cache plans say where breakpoints went and why.
    """
    key = request.GET.get("key", "")
    store = get_store()
    try:
        document = load_document(store)
        entry = document.entry(key)
    except RecordNotFound as exc:
        raise Http404(str(exc)) from exc
    except StoreError as exc:
        return render(
            request, "console/configuration/entry.html", {"store_error": str(exc)}, status=503
        )

    can_edit = request.user.has_perm(EDIT)
    notice = ""
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("editing flags needs the edit_flags permission")
        form = FlagsForm(request.POST, entry=entry)
        if form.is_valid():
            try:
                update_entry_flags(
                    store,
                    key,
                    form.flags(),
                    expected_revision=form.cleaned_data["revision"],
                    actor=request.user.get_username(),
                    reason=form.cleaned_data["reason"],
                )
            except ConflictError:
                # Someone saved first: show their values, never overwrite them.
                document = load_document(store)
                entry = document.entry(key)
                form = FlagsForm(
                    initial=FlagsForm.initial_for(entry, document.revision), entry=entry
                )
                notice = (
                    "Someone else saved this configuration after you opened it. Their values "
                    "are shown below; apply your change again and save."
                )
                status = 409
            except ConfigError as exc:
                form.add_problems(exc)
                status = 422
            else:
                messages.success(request, f"Saved {key}.")
                return redirect(_entry_url(key))
        else:
            status = 422
    else:
        form = FlagsForm(initial=FlagsForm.initial_for(entry, document.revision), entry=entry)

    plans, plans_error = _recent_plans(store, key)
    context = {
        "entry": entry,
        "form": form,
        "plans": plans,
        "plans_error": plans_error,
        "can_edit": can_edit,
        "notice": notice,
        "hints": capability_hints(entry.provider or "", entry.model),
        "key_is_set": bool((entry.configuration or {}).get("apiKey")),
        "summary": optimization_summary(entry),
        "flag_places": flag_places(entry),
        "flags_source": flags_source(entry),
    }
    return render(request, "console/configuration/entry.html", context, status=status)


@requires(VIEW)
@require_http_methods(["GET", "POST"])
def rollback(request: AuthedRequest) -> HttpResponse:
    """The emergency rollback: one button engages the kill switch, another restores."""
    store = get_store()
    form = RollbackForm()
    status = 200
    if request.method == "POST":
        if not request.user.has_perm(OPERATE):
            raise PermissionDenied("rollback and restore need the operate permission")
        form = RollbackForm(request.POST)
        if form.is_valid():
            action = form.cleaned_data["action"]
            change = engage_kill_switch if action == "engage" else release_kill_switch
            try:
                change(store, actor=request.user.get_username(), reason=form.cleaned_data["reason"])
            except StoreError as exc:
                logger.error("rollback: store unwritable: %s", exc)
                context = {
                    "store_error": str(exc),
                    "kill_switch": read_kill_switch(store),
                    "form": form,
                }
                return render(request, "console/configuration/rollback.html", context, status=503)
            messages.warning(
                request,
                "All optimization is off." if action == "engage" else "Optimization restored.",
            )
            return redirect("rollback")
        if "action" in form.errors:
            return HttpResponseBadRequest("action must be engage or release")
        status = 422
    context = {
        "kill_switch": read_kill_switch(store),
        "can_operate": request.user.has_perm(OPERATE),
        "form": form,
    }
    return render(request, "console/configuration/rollback.html", context, status=status)
