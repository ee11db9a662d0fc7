"""The Budgets page: each budget with its spend and alerts (live), the list edited as JSON
with the core's rules, and what a viewer and an outsider may do."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from llmopt.config import load_document
from llmopt.store import BudgetAlert, Store

from .conftest import AICONFIGS, SECRET, seed

pytestmark = pytest.mark.django_db
URL = "/budgets/"
DAILY = {"name": "daily overall", "period": "day", "limitUsd": 10, "atLimit": "refuse"}


def this_day() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def form_data(store: Store, budgets: Any, reason: str = "test") -> dict[str, str]:
    text = budgets if isinstance(budgets, str) else json.dumps(budgets)
    return {"revision": load_document(store).revision or "", "budgets": text, "reason": reason}


def test_an_operator_sees_each_budget_with_its_spend_and_what_happens_at_the_limit(
    operator: Client, store: Store
) -> None:
    seed(store, {**AICONFIGS, "budgets": [DAILY]})
    store.reserve_budget(
        "daily overall", this_day(), usd=2.5, tokens=100, limit_usd=10, limit_tokens=None
    )
    response = operator.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    row = page[page.index('id="budget-1"') :]
    row = row[: row.index("</tr>")]
    assert "daily overall" in row and "every call" in row
    assert "$10.00" in row and "$2.5000" in row and "25.0%" in row
    assert "refuse: calls are refused" in row
    assert 'id="budgets-form"' in page
    assert SECRET not in page


def test_the_live_fragment_shows_alerts_as_they_are_recorded(
    signed_in: Client, store: Store
) -> None:
    seed(store, {**AICONFIGS, "budgets": [DAILY]})
    htmx = {"HX-Request": "true"}
    first = signed_in.get(URL, headers=htmx).content.decode()
    assert first.lstrip().startswith('<div id="budgets-live"')
    assert "No alerts yet" in first
    store.add_budget_alert(
        BudgetAlert(
            budget="daily overall",
            period_start=this_day(),
            threshold=80,
            at=datetime.now(UTC),
            usd=8,
            tokens=0,
            detail="80.0% of this day's limit spent",
        )
    )
    later = signed_in.get(URL, headers=htmx).content.decode()
    assert "80.0% of this day&#x27;s limit spent" in later


def test_an_operator_saves_budgets_and_the_change_is_audited(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = operator.post(URL, form_data(store, [DAILY]))
    assert response.status_code == 302
    assert load_document(store).body["budgets"] == [DAILY]
    [event] = store.list_audit(action="budgets.update")
    assert event.reason == "test"


@pytest.mark.parametrize(
    ("budgets", "words"),
    [
        ("[{not json", "not valid JSON"),
        ('{"name": "x"}', "JSON list"),
        ([{"name": "x", "period": "week", "limitUsd": 1}], "period must be"),
        ([{"name": "x", "period": "day"}], "limitUsd or limitTokens"),
        ([DAILY, DAILY], "another budget is named"),
    ],
)
def test_invalid_budgets_are_shown_beside_the_list_and_nothing_is_written(
    operator: Client, store: Store, budgets: Any, words: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = operator.post(URL, form_data(store, budgets))
    assert response.status_code == 422
    page = response.content.decode()
    field = page[page.index('class="field invalid" id="field-budgets"') :]
    assert words in field[: field.index("</textarea>") + 600]
    assert load_document(store).revision == revision


def test_a_stale_revision_is_refused_and_says_to_reload(operator: Client, store: Store) -> None:
    seed(store)
    stale = form_data(store, [])
    assert operator.post(URL, form_data(store, [DAILY])).status_code == 302
    response = operator.post(URL, stale)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert load_document(store).body["budgets"] == [DAILY]


def test_a_viewer_reads_the_page_but_may_not_save(signed_in: Client, store: Store) -> None:
    seed(store, {**AICONFIGS, "budgets": [DAILY]})
    response = signed_in.get(URL)
    assert response.status_code == 200
    assert 'id="budgets-form"' not in response.content.decode()
    assert signed_in.post(URL, form_data(store, [])).status_code == 403
    assert load_document(store).body["budgets"] == [DAILY]


def test_an_outsider_is_refused(outsider: Client, store: Store) -> None:
    seed(store)
    assert outsider.get(URL).status_code == 403
    assert outsider.get(URL, headers={"HX-Request": "true"}).status_code == 403
    assert outsider.post(URL, form_data(store, [DAILY])).status_code == 403
    assert "budgets" not in load_document(store).body


def test_invalid_stored_budgets_are_reported_and_none_is_shown_as_enforced(
    signed_in: Client, store: Store
) -> None:
    seed(store, {**AICONFIGS, "budgets": [{"name": "broken", "period": "year", "limitUsd": 1}]})
    page = signed_in.get(URL).content.decode()
    assert "The stored budgets are invalid" in page and "period must be" in page
