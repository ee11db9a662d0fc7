"""``/api/budgets``: the document's budgets with their spend this period and recent
alerts; saving the list."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Router, Schema

from llmopt.config import load_document
from llmopt.store import Store
from llmopt.tokens import update_budgets

from ..budgets.spend import budget_statuses, document_budgets, shown_budgets
from ..budgets.trend import spend_trends
from ..clock import CLOCK
from ..roles import EDIT, VIEW
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth, actor
from .errors import READ_ERRORS, Conflict, ValidationErrors
from .strict import InputSchema, Reason

router = Router(tags=["budgets"], auth=RoleAuth(VIEW))
ALERTS_SHOWN = 50


class DaySpendOut(Schema):
    """What the calls a budget counts cost in one UTC day (from the route statistics)."""

    day: date
    usd: float
    tokens: int


class BudgetStatusOut(Schema):
    """One budget's spend in its current UTC period; ``percent`` of the nearer limit;
    ``daily``, its spend on each of the last 14 UTC days, oldest first."""

    name: str
    entry: str | None
    period: str
    periodStart: datetime
    resetsAt: datetime
    usd: float
    tokens: int
    limitUsd: float | None
    limitTokens: int | None
    atLimit: str
    percent: float
    daily: list[DaySpendOut]


class BudgetAlertOut(Schema):
    """A threshold crossed in a period (recorded once across processes)."""

    budget: str
    periodStart: datetime
    threshold: int
    at: datetime
    usd: float
    tokens: int
    detail: str


class BudgetsOut(Schema):
    """The ``budgets`` list at one revision (as stored, each ``webhook`` masked), each
    budget's spend, the alerts; ``problems`` says why no budget is enforced when the
    stored list is invalid."""

    revision: str | None
    budgets: list[Any]
    problems: list[str]
    spend: list[BudgetStatusOut]
    alerts: list[BudgetAlertOut]


class BudgetsIn(InputSchema):
    """The whole ``budgets`` list, the revision it was read at, and why. Checked by the
    core (``BudgetSettings.load_list``): every problem answers 422, nothing written. A
    ``webhook`` sent back masked as ``GET`` showed it keeps the stored URL; a masked
    one that masks no stored webhook is a 422."""

    budgets: list[dict[str, Any]]
    revision: str
    reason: Reason = ""


def _budgets_out(store: Store) -> BudgetsOut:
    document = load_document(store)
    budgets, problems = document_budgets(document)
    now = CLOCK.now()
    statuses = budget_statuses(store, budgets, now=now)
    trends = spend_trends(store, budgets, now=now)
    return BudgetsOut(
        revision=document.revision,
        budgets=shown_budgets(document),
        problems=problems,
        spend=[
            BudgetStatusOut(
                name=s.name,
                entry=s.entry,
                period=s.period,
                periodStart=s.period_start,
                resetsAt=s.resets_at,
                usd=s.usd,
                tokens=s.tokens,
                limitUsd=s.limit_usd,
                limitTokens=s.limit_tokens,
                atLimit=s.at_limit,
                percent=s.percent,
                daily=[
                    DaySpendOut(day=day, usd=usd, tokens=tokens)
                    for day, usd, tokens in zip(t.days, t.usd, t.tokens, strict=True)
                ],
            )
            for s, t in zip(statuses, trends, strict=True)
        ],
        alerts=[
            BudgetAlertOut(
                budget=a.budget,
                periodStart=a.period_start,
                threshold=a.threshold,
                at=a.at,
                usd=a.usd,
                tokens=a.tokens,
                detail=a.detail,
            )
            for a in store.list_budget_alerts(limit=ALERTS_SHOWN)
        ],
    )


@router.get("", response={200: BudgetsOut, **READ_ERRORS}, summary="Budgets and their spend")
def get_budgets(request: AuthedRequest) -> BudgetsOut:
    return _budgets_out(get_store())


@router.put(
    "",
    auth=RoleAuth(EDIT),
    response={200: BudgetsOut, 409: Conflict, 422: ValidationErrors, **READ_ERRORS},
    summary="Save the budgets list",
)
def put_budgets(request: AuthedRequest, payload: BudgetsIn) -> BudgetsOut:
    """Validated as a whole (422, nothing written), refused when stale (409), audited
    as ``budgets.update``; the rest of the document is kept."""
    store = get_store()
    update_budgets(
        store,
        payload.budgets,
        expected_revision=payload.revision,
        actor=actor(request),
        reason=payload.reason,
    )
    return _budgets_out(store)
