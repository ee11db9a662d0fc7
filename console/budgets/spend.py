"""Each budget's spend in its current UTC period, for the Budgets page and ``/api/budgets``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from llmopt.config import AIConfigDocument
from llmopt.errors import ConfigError
from llmopt.store import Store
from llmopt.tokens import BudgetGuard, BudgetSettings, BudgetStatus, masked_budgets

AT_LIMIT = {
    "alert": "calls go on; an alert is sent",
    "route_cheaper": "the router picks a cheaper entry",
    "refuse": "calls are refused (BudgetExceeded)",
}


def shown_budgets(document: AIConfigDocument) -> list[Any]:
    """The ``budgets`` list as stored, each webhook masked (``masked_budgets``), or ``[]``
    when there is none or it is not a list. Saved back unchanged, it keeps the webhooks."""
    raw = document.body.get("budgets")
    return list(masked_budgets(raw)) if isinstance(raw, list) else []


def document_budgets(document: AIConfigDocument) -> tuple[list[BudgetSettings], list[str]]:
    """The document's budgets, or none and every problem with them."""
    raw = document.body.get("budgets")
    if raw is not None and not isinstance(raw, list):
        return [], ["budgets must be a list of budget objects"]
    try:
        return BudgetSettings.load_list(raw), []
    except ConfigError as exc:
        return [], [problem.message for problem in exc.problems]


def budget_statuses(
    store: Store, budgets: Sequence[BudgetSettings], *, now: datetime
) -> list[BudgetStatus]:
    """Every budget's spend in the period holding ``now``, from ``store.budget_spend``
    keyed by (name, UTC period start): the guard's own reading, so they agree."""
    guard = BudgetGuard(store, budgets, clock=lambda: now)
    try:
        return guard.spend()
    finally:
        guard.close()
