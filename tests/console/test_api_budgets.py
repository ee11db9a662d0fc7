"""``/api/budgets``: budgets with their spend read by every role, the list saved by
editors, validated by the core (422, nothing written), stale saves refused (409)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from console.clock import CLOCK
from llmopt.config import load_document
from llmopt.store import BudgetAlert, RouteStatsRollup, Store

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


SLACK = "https://hooks.slack.com/services/T000/B000/hook-secret-4242"
SHOWN = "https://hooks.slack.com/services/********"
HOOKED = {**DAILY, "webhook": SLACK}


def test_a_webhook_is_read_masked_and_never_whole(signed_in: Client, store: Store) -> None:
    seed(store, with_budgets([HOOKED]))
    response = signed_in.get(URL)
    assert response.json()["budgets"] == [{**DAILY, "webhook": SHOWN}]
    assert "hook-secret-4242" not in response.content.decode()


def test_saving_what_was_read_keeps_the_stored_webhook_and_audits_it_masked(
    operator: Client, store: Store
) -> None:
    seed(store, with_budgets([HOOKED]))
    read = operator.get(URL).json()
    edited = [{**read["budgets"][0], "limitUsd": 25}]
    response = put(operator, {"budgets": edited, "revision": read["revision"]})
    assert response.status_code == 200
    assert "hook-secret-4242" not in response.content.decode()
    assert load_document(store).body["budgets"] == [{**HOOKED, "limitUsd": 25}]
    [event] = store.list_audit(action="budgets.update")
    assert event.after == [{**DAILY, "limitUsd": 25, "webhook": SHOWN}]
    assert "hook-secret-4242" not in repr((event.before, event.after))
    audit = operator.get("/api/audit").content.decode()
    assert "budgets.update" in audit and "hook-secret-4242" not in audit


def test_a_whole_new_webhook_replaces_the_stored_one(operator: Client, store: Store) -> None:
    seed(store, with_budgets([HOOKED]))
    new = "https://alerts.example/hooks/new-secret-77?token=t0ken"
    body = {"budgets": [{**DAILY, "webhook": new}], "revision": load_document(store).revision}
    response = put(operator, body)
    assert response.status_code == 200
    assert load_document(store).body["budgets"][0]["webhook"] == new
    assert "new-secret-77" not in response.content.decode()
    assert "t0ken" not in response.content.decode()


def test_a_masked_webhook_that_masks_no_stored_one_is_a_422_and_nothing_is_written(
    operator: Client, store: Store
) -> None:
    seed(store, with_budgets([HOOKED]))
    revision = load_document(store).revision
    masked = {**DAILY, "webhook": "https://alerts.example/hooks/********"}
    response = put(operator, {"budgets": [masked], "revision": revision})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "budgets[0].webhook"
    assert "masks no stored webhook" in problem["message"]
    assert load_document(store).revision == revision


def test_an_invalid_webhook_is_refused_without_showing_its_secret(
    operator: Client, store: Store
) -> None:
    seed(store)
    hook = {**DAILY, "webhook": "ftp://ops:pa55word@alerts.example/x/y-secret-9?token=t0ken"}
    response = put(operator, {"budgets": [hook], "revision": load_document(store).revision})
    assert response.status_code == 422
    for secret in ("pa55word", "y-secret-9", "t0ken"):
        assert secret not in response.content.decode()


def test_each_budget_says_what_it_spent_on_each_of_the_last_14_days(
    signed_in: Client, store: Store
) -> None:
    mine = {"name": "claude only", "entry": "claude-main", "period": "month", "limitUsd": 100}
    seed(store, with_budgets([DAILY, mine]))
    now = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    store.add_route_stats(
        [
            RouteStatsRollup(
                minute=datetime(2026, 5, 9, 8, 0, tzinfo=UTC),
                entry_key="claude-main",
                calls=2,
                cost_usd=1.5,
                tokens=400,
            ),
            RouteStatsRollup(
                minute=datetime(2026, 5, 10, 9, 0, tzinfo=UTC),
                entry_key="other",
                calls=1,
                cost_usd=0.25,
                tokens=50,
            ),
        ]
    )
    with CLOCK.frozen(now):
        overall, entry_only = signed_in.get(URL).json()["spend"]
    assert [d["day"] for d in overall["daily"]][::13] == ["2026-04-27", "2026-05-10"]
    assert overall["daily"][-2:] == [
        {"day": "2026-05-09", "usd": 1.5, "tokens": 400},
        {"day": "2026-05-10", "usd": 0.25, "tokens": 50},
    ]
    assert [d["usd"] for d in entry_only["daily"][-2:]] == [1.5, 0.0]
