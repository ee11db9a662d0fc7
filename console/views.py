"""Pages of the console."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from llmopt.config import LLMEntry, load_document
from llmopt.errors import StoreError
from llmopt.killswitch import read_kill_switch

from .access import requires
from .roles import VIEW
from .store import get_store

logger = logging.getLogger("console")


class AuthedRequest(HttpRequest):
    user: AbstractBaseUser | AnonymousUser
    htmx: HtmxDetails


def optimization_summary(entry: LLMEntry) -> str:
    """What optimization this entry gets, in a few words."""
    config = entry.config
    if config is None:
        return "none (invalid entry)"
    parts = []
    if config.applies_caching:
        parts.append(f"caching ({config.cache_ttl // 60} min)")
    if config.applies_batching:
        parts.append(f"batching (≤{config.batch_max_size:,} / {config.batch_timeout} s)")
    return " + ".join(parts) or "off"


@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    return redirect("config-list")


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
    """For load balancers: 200 when the llmopt store answers, 503 when it does not.

    No login (a load balancer has none) and nothing secret: only whether it works.
    """
    try:
        get_store().ping()
    except StoreError as exc:
        logger.error("health check: store unreachable: %s", exc)
        return JsonResponse({"status": "unavailable", "store": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "store": "ok"})
