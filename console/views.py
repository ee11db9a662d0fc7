"""Pages of the console."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from llmopt.config import capability_hints, load_document, update_entry_flags
from llmopt.errors import ConfigError, ConflictError, RecordNotFound, StoreError
from llmopt.killswitch import engage_kill_switch, read_kill_switch, release_kill_switch

from .audit_actions import AUDIT_ACTIONS
from .broker import BrokerUnavailable, check_broker
from .celery import app as celery_app
from .forms import FlagsForm, RollbackForm, flags_source
from .roles import EDIT, OPERATE, VIEW
from .store import get_store
from .summaries import flag_places, optimization_summary
from .web.access import AuthedRequest, requires

logger = logging.getLogger("console")

HEALTH_BROKER_TIMEOUT = 2.0
"""Seconds the health check waits for the broker; load balancers time out soon after."""


@requires(VIEW)
@require_GET
def config_list(request: AuthedRequest) -> HttpResponse:
    """Every ``llm`` entry of the aiconfigs document, with its optimization state and problems."""
    store = get_store()
    try:
        document = load_document(store)
    except StoreError as exc:
        logger.error("config list: store unreadable: %s", exc)
        context = {"store_error": str(exc)}
        return render(request, "console/config_list.html", context, status=503)
    rows = [(entry, optimization_summary(entry)) for entry in document.entries]
    context = {
        "document": document,
        "rows": rows,
        "kill_switch": read_kill_switch(store),
    }
    return render(request, "console/config_list.html", context)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the llmopt store and the Celery broker answer, else 503.

    No login (a load balancer has none) and nothing secret: only what works. The
    reasons go to the log, with the broker's password masked.
    """
    checks = {"store": "ok", "broker": "ok"}
    try:
        get_store().ping()
    except StoreError as exc:
        logger.error("health check: store unreachable: %s", exc)
        checks["store"] = "unreachable"
    try:
        check_broker(celery_app, timeout=HEALTH_BROKER_TIMEOUT)
    except BrokerUnavailable as exc:
        logger.error("health check: broker unreachable: %s", exc)
        checks["broker"] = "unreachable"
    healthy = all(state == "ok" for state in checks.values())
    body = {"status": "ok" if healthy else "unavailable", **checks}
    return JsonResponse(body, status=200 if healthy else 503)


def _entry_url(key: str) -> str:
    return f"{reverse('config-edit')}?{urlencode({'key': key})}"


@requires(VIEW)
@require_http_methods(["GET", "POST"])
def config_edit(request: AuthedRequest) -> HttpResponse:
    """One entry's flags: the core's validation inline, keys masked, stale saves refused.

    The form shows the flags from every place the entry keeps them (flat, or the
    migration guide's nested block); saving writes each flag back where it is kept.
    """
    key = request.GET.get("key", "")
    store = get_store()
    try:
        document = load_document(store)
        entry = document.entry(key)
    except RecordNotFound as exc:
        raise Http404(str(exc)) from exc
    except StoreError as exc:
        return render(request, "console/config_edit.html", {"store_error": str(exc)}, status=503)

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

    context = {
        "entry": entry,
        "form": form,
        "can_edit": can_edit,
        "notice": notice,
        "hints": capability_hints(entry.provider or "", entry.model),
        "key_is_set": bool((entry.configuration or {}).get("apiKey")),
        "summary": optimization_summary(entry),
        "flag_places": flag_places(entry),
        "flags_source": flags_source(entry),
    }
    return render(request, "console/config_edit.html", context, status=status)


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
                return render(request, "console/rollback.html", context, status=503)
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
    return render(request, "console/rollback.html", context, status=status)


AUDIT_PAGE = 50


@requires(VIEW)
@require_GET
def audit_log(request: AuthedRequest) -> HttpResponse:
    """Every change, newest first, with its diff; filterable by action, and by any part of
    the actor and of the target in any case."""
    filters = {name: request.GET.get(name) or None for name in ("action", "actor", "target")}
    before_id = request.GET.get("before") or None
    try:
        records = get_store().list_audit(
            limit=AUDIT_PAGE + 1, before_id=before_id, match="contains", **filters
        )
    except ValueError as exc:  # a ?before= that is not one of the log's ids
        return render(request, "console/audit.html", {"input_error": str(exc)}, status=400)
    except StoreError as exc:
        return render(request, "console/audit.html", {"store_error": str(exc)}, status=503)
    more = len(records) > AUDIT_PAGE
    records = records[:AUDIT_PAGE]
    rows = [(record, audit_diff(record.before, record.after)) for record in records]
    next_query = ""
    if more:
        next_query = urlencode(
            {**{k: v for k, v in filters.items() if v}, "before": records[-1].id}
        )
    context = {
        "rows": rows,
        "filters": filters,
        "next_query": next_query,
        "actions": _action_choices(filters["action"]),
    }
    return render(request, "console/audit.html", context)


def _action_choices(current: str | None) -> list[tuple[str, str]]:
    """The action filter's options; one the log has but the catalogue lacks is kept."""
    choices = list(AUDIT_ACTIONS.items())
    if current and current not in AUDIT_ACTIONS:
        choices.append((current, current))
    return choices


def audit_diff(before: object, after: object) -> list[tuple[str, str, str]]:
    """(field, before, after) for each top-level field that differs; secrets arrive masked.

    A record created or deleted (one side ``None``) lists the other side's fields.
    """
    if before is None and isinstance(after, dict):
        before = {}
    elif after is None and isinstance(before, dict):
        after = {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        if before == after:
            return []
        return [("", _short(before), _short(after))]
    keys = sorted(set(before) | set(after))
    return [
        (str(k), _short(before.get(k)), _short(after.get(k)))
        for k in keys
        if before.get(k) != after.get(k)
    ]


def _short(value: object) -> str:
    text = "—" if value is None else json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:119] + "…"
