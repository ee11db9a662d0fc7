"""The pages about usage: the Overview (and its live part) and Statistics."""

from __future__ import annotations

import logging

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from llmopt.config import load_document
from llmopt.errors import LLMOptError, StoreError
from llmopt.killswitch import env_switch, read_kill_switch
from llmopt.store import Store

from ..clock import CLOCK
from ..roles import OPERATE, VIEW
from ..store import get_store
from ..templatetags.numbers import compact, percent, usd
from ..web import polling
from ..web.access import AuthedRequest, requires
from . import statistics as stats
from .charts import Chart, Series

logger = logging.getLogger("console")

OVERVIEW_PAGE = "console/usage/overview.html"

# What the Statistics page's two figures of caching waste mean, in one sentence each.
UNREAD_WRITES_HELP = (
    "Cache writes that expired before any request read them: what writing them cost was "
    "spent for nothing. The share is of everything spent on cache writes."
)
MISSED_READS_HELP = (
    "Input a recent request had also sent that went out at the full input price instead "
    "of being read from the cache: what such reads would have saved."
)


def _switches(store: Store) -> dict[str, object]:
    """The kill switch, and why this (the console's) process's environment turns
    optimization off, if it does: ``LLM_OPTIMIZATION_ENABLED`` is read per process."""
    return {"kill_switch": read_kill_switch(store), "env_switch": env_switch()}


@requires(VIEW)
@require_GET
@vary_on_headers("HX-Request")
def home(request: AuthedRequest) -> HttpResponse:
    """The Overview: kill switch, savings, hit rate, traffic, batches in flight, trouble.

    For htmx, its live part alone (``#overview-live``), which polls this URL.
    """
    store = get_store()
    now = CLOCK.now()
    context = {**_switches(store), "poll": polling.OVERVIEW}
    try:
        if request.htmx:
            context["live"] = stats.live(store, now=now)
        else:
            numbers = stats.overview(store, now=now)
            context |= {
                "live": numbers.live,
                "overview": numbers,
                "can_operate": request.user.has_perm(OPERATE),
            }
    except StoreError as exc:
        logger.error("overview: store unreadable: %s", exc)
        context["store_error"] = str(exc)
        status = 503
    else:
        status = 200
    template = f"{OVERVIEW_PAGE}#overview-live" if request.htmx else OVERVIEW_PAGE
    return render(request, template, context, status=status)


@requires(VIEW)
@require_GET
def statistics(request: AuthedRequest) -> HttpResponse:
    """Cache hit rate, tokens and cost against the unoptimized baseline, as charts and tables."""
    store = get_store()
    range_name = request.GET.get("range") or stats.DEFAULT_RANGE
    entry_key = request.GET.get("entry") or None
    context: dict[str, object] = {
        "ranges": list(stats.RANGES),
        "range": range_name,
        "entry": entry_key or "",
        "unread_help": UNREAD_WRITES_HELP,
        "missed_help": MISSED_READS_HELP,
    }
    if range_name not in stats.RANGES:
        context["range"] = stats.DEFAULT_RANGE
        context["input_error"] = f"Unknown range {range_name!r}: choose one of 24h, 7d or 30d."
        return render(request, "console/usage/statistics.html", context, status=400)
    try:
        numbers = stats.statistics(
            store, range_name=range_name, now=CLOCK.now(), entry_key=entry_key
        )
    except StoreError as exc:
        logger.error("statistics: store unreadable: %s", exc)
        context["store_error"] = str(exc)
        return render(request, "console/usage/statistics.html", context, status=503)
    context |= {
        "stats": numbers,
        "charts": charts_for(numbers),
        "entries": _entry_choices(numbers, entry_key),
    }
    return render(request, "console/usage/statistics.html", context)


def _entry_choices(numbers: stats.Statistics, selected: str | None) -> list[str]:
    """Configured entries, plus any with usage in range (since removed) and the one asked for."""
    keys = {key for key, _ in numbers.per_entry}
    try:
        keys.update(entry.key for entry in load_document(get_store()).entries)
    except LLMOptError as exc:  # the charts do not need the configuration
        logger.warning("statistics: configuration unreadable: %s", exc)
    if selected:
        keys.add(selected)
    return sorted(keys)


def charts_for(numbers: stats.Statistics) -> list[Chart]:
    """The three charts of the Statistics page, over the range's buckets."""
    daily = numbers.bucket == stats.DAY
    labels = [p.start.strftime("%Y-%m-%d" if daily else "%m-%d %H:00") for p in numbers.points]
    totals = [p.totals for p in numbers.points]
    return [
        Chart(
            id="chart-hit-rate",
            title="Cache hit rate: cache reads as a share of all input tokens",
            labels=labels,
            series=[Series("hit rate", [t.cache_hit_rate for t in totals], "s-hit")],
            fmt=percent,
            ceiling=1.0,
        ),
        Chart(
            id="chart-tokens",
            title="Tokens: input, cache write, cache read and output",
            labels=labels,
            series=[
                Series("input", [t.input_tokens for t in totals], "s-input"),
                Series("cache write", [t.cache_write_tokens for t in totals], "s-write"),
                Series("cache read", [t.cache_read_tokens for t in totals], "s-read"),
                Series("output", [t.output_tokens for t in totals], "s-output"),
            ],
            fmt=compact,
        ),
        Chart(
            id="chart-cost",
            title="Cost against the unoptimized baseline (the gap is the savings)",
            labels=labels,
            series=[
                Series("baseline", [t.baseline_cost_usd for t in totals], "s-baseline"),
                Series("cost", [t.cost_usd for t in totals], "s-cost"),
                Series("savings", [t.savings_usd for t in totals], "s-savings"),
            ],
            fmt=usd,
        ),
    ]
