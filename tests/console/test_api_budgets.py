"""``/api/budgets``: budgets with their spend read by every role, the list saved by
editors, validated by the core (422, nothing written), stale saves refused (409)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from llmopt.config import load_document
from llmopt.store import BudgetAlert, Store

from .conftest import AICONFIGS, SECRET, seed

pytestmark = pytest.mark.django_db
URL = "/api/budgets"
DAILY = {"name": "daily overall", "period": "day", "limitUsd": 10, "atLimit": "refuse"}
MONTHLY = {"name": "monthly tokens", "period": "month", "limitTokens": 1000}


def put(client: Client, body: dict[str, Any]) -> Any:
    return client.put(URL, body, content_type="application/json")


def with_budgets(budgets: list[dict[str, Any]]) -> dict[str, Any]:
    return {**AICONFIGS, "budgets": budgets}


def this_day() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_a_viewer_reads_each_budget_with_its_spend_this_period(
    signed_in: Client, store: Store
) -> None:
    seed(store, with_budgets([DAILY, MONTHLY]))
    store.reserve_budget(
        "daily overall", this_day(), usd=2.5, tokens=100, limit_usd=10, limit_tokens=None
    )
    store.add_budget_alert(
        BudgetAlert(
            budget="daily overall",
            period_start=this_day(),
            threshold=50,
            at=datetime.now(UTC),
            usd=5,
            tokens=10,
        )
    )
    response = signed_in.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["budgets"] == [DAILY, MONTHLY]
    daily, monthly = body["spend"]
    assert (daily["usd"], daily["tokens"], daily["percent"]) == (2.5, 100, 25.0)
    assert daily["atLimit"] == "refuse"
    assert (monthly["usd"], monthly["tokens"]) == (0.0, 0)
    assert body["alerts"][0]["threshold"] == 50
    assert SECRET not in response.content.decode()


def test_an_operator_saves_the_budgets_audited(operator: Client, store: Store) -> None:
    seed(store)
    body = {"budgets": [DAILY], "revision": load_document(store).revision, "reason": "cap"}
    response = put(operator, body)
    assert response.status_code == 200
    assert response.json()["budgets"] == [DAILY]
    assert load_document(store).body["budgets"] == [DAILY]
    assert load_document(store).body["llm"] == AICONFIGS["llm"]
    [event] = store.list_audit(action="budgets.update")
    assert (event.actor, event.reason, event.after) == ("operator", "cap", [DAILY])


@pytest.mark.parametrize(
    ("budgets", "field"),
    [
        ([{"name": "x", "period": "week", "limitUsd": 1}], "budgets[0].period"),
        ([{"name": "x", "period": "day"}], "budgets[0]"),
        ([{"name": "x", "period": "day", "limitUsd": -1}], "budgets[0].limitUsd"),
        ([DAILY, DAILY], "budgets[1].name"),
    ],
)
def test_invalid_budgets_are_a_422_and_nothing_is_written(
    operator: Client, store: Store, budgets: list[dict[str, Any]], field: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = put(operator, {"budgets": budgets, "revision": revision})
    assert response.status_code == 422
    assert field in [problem["field"] for problem in response.json()["detail"]]
    assert load_document(store).revision == revision


def test_a_stale_revision_is_a_409(operator: Client, store: Store) -> None:
    seed(store)
    revision = load_document(store).revision
    assert put(operator, {"budgets": [DAILY], "revision": revision}).status_code == 200
    response = put(operator, {"budgets": [MONTHLY], "revision": revision})
    assert response.status_code == 409
    assert response.json()["revision"] == load_document(store).revision
    assert load_document(store).body["budgets"] == [DAILY]


def test_a_viewer_may_not_save(signed_in: Client, store: Store) -> None:
    seed(store)
    body = {"budgets": [DAILY], "revision": load_document(store).revision}
    assert put(signed_in, body).status_code == 403
    assert "budgets" not in load_document(store).body


def test_an_outsider_and_an_anonymous_caller_are_refused(
    outsider: Client, store: Store, client: Client
) -> None:
    seed(store)
    body = {"budgets": [DAILY], "revision": load_document(store).revision}
    assert outsider.get(URL).status_code == 403
    assert put(outsider, body).status_code == 403
    outsider.logout()
    assert client.get(URL).status_code == 401
    assert "budgets" not in load_document(store).body


def test_the_openapi_schema_lists_the_budget_operations_with_their_errors(
    signed_in: Client,
) -> None:
    paths = signed_in.get("/api/openapi.json").json()["paths"]
    assert set(paths[URL]) == {"get", "put"}
    assert {"200", "401", "403", "409", "422"} <= set(paths[URL]["put"]["responses"])
