"""The audit log page: every change, newest first, with its diff."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from llmopt.errors import StoreError

from ..roles import VIEW
from ..store import get_store
from ..web.access import AuthedRequest, requires
from .actions import AUDIT_ACTIONS

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
            limit=AUDIT_PAGE + 1,
            before_id=before_id,
            action=filters["action"],
            actor=filters["actor"],
            target=filters["target"],
            match="contains",
        )
    except ValueError as exc:  # a ?before= that is not one of the log's ids
        return render(request, "console/audit/log.html", {"input_error": str(exc)}, status=400)
    except StoreError as exc:
        return render(request, "console/audit/log.html", {"store_error": str(exc)}, status=503)
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
    return render(request, "console/audit/log.html", context)


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
