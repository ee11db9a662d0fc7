"""The Budgets page: each budget of the document with its spend this period (live), its
spend per day over two weeks (live), its recent alerts (live), and the list edited as
JSON with the core's rules, optimistically; webhooks are shown masked.

One view serves the page and its live fragment (``request.htmx``): the spend table, the
daily charts and the alerts, re-rendered at each poll.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from llmopt.config import AIConfigDocument, load_document
from llmopt.errors import ConfigError, ConflictError, StoreError
from llmopt.store import Store
from llmopt.tokens import update_budgets

from ..clock import CLOCK
from ..roles import EDIT, VIEW
from ..store import get_store
from ..web.access import AuthedRequest, requires
from ..web.polling import Poll
from .forms import BudgetsForm
from .spend import AT_LIMIT, budget_statuses, document_budgets, shown_budgets
from .trend import TREND_DAYS, spend_trends

logger = logging.getLogger("console.budgets")

PAGE = "console/budgets/page.html"
BUDGETS_LIVE = Poll(visible="5s", hidden="60s")
ALERTS_SHOWN = 20
CONFLICT = (
    "The budgets were changed by someone else after you opened this page; nothing was "
    "saved. Reload to see their change, then apply yours again."
)


def _live_context(store: Store, document: AIConfigDocument) -> dict[str, Any]:
    budgets, problems = document_budgets(document)
    now = CLOCK.now()
    statuses = budget_statuses(store, budgets, now=now)
    return {
        "rows": [(status, AT_LIMIT.get(status.at_limit, status.at_limit)) for status in statuses],
        "trends": spend_trends(store, budgets, now=now),
        "trend_days": TREND_DAYS,
        "problems": problems,
        "alerts": store.list_budget_alerts(limit=ALERTS_SHOWN),
        "poll": BUDGETS_LIVE,
        "live_url": reverse("budgets"),
    }


@requires(VIEW)
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def budgets(request: AuthedRequest) -> HttpResponse:
    """The Budgets page; POST saves the list (editing permission), validated by the core,
    refused when stale (409) and audited as ``budgets.update``."""
    store = get_store()
    try:
        document = load_document(store)
        if request.htmx and request.method == "GET":
            return render(request, f"{PAGE}#budgets-live", _live_context(store, document))
        live = _live_context(store, document)
    except StoreError as exc:
        logger.error("budgets: store unreadable: %s", exc)
        return render(request, PAGE, {"store_error": str(exc)}, status=503)

    can_edit = request.user.has_perm(EDIT)
    notice = ""
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("editing budgets needs the edit_flags permission")
        form = BudgetsForm(request.POST)
        if form.is_valid():
            try:
                update_budgets(
                    store,
                    form.cleaned_data["budgets"],
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
                messages.success(request, "Saved the budgets.")
                return redirect("budgets")
        else:
            status = 422
    else:
        initial = BudgetsForm.initial_for(shown_budgets(document), document.revision)
        form = BudgetsForm(initial=initial)
    context = {"form": form, "can_edit": can_edit, "notice": notice, "document": document, **live}
    return render(request, PAGE, context, status=status)
