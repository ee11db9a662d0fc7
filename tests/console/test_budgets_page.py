"""The Budgets page: each budget with its spend and alerts (live), the list edited as JSON
with the core's rules, and what a viewer and an outsider may do."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from console.clock import CLOCK
from llmopt.config import load_document
from llmopt.store import BudgetAlert, RouteStatsRollup, Store

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


SLACK = "https://hooks.slack.com/services/T000/B000/hook-secret-4242"
SHOWN = "https://hooks.slack.com/services/********"
HOOKED = {**DAILY, "webhook": SLACK}


def shown_list(page: str) -> list[Any]:
    """The budgets list in the page's edit box (an editor's) or its read-only view."""
    start = (
        page.index(
            ">",
            page.index('name="budgets"')
            if 'name="budgets"' in page
            else page.index('id="budgets-json"'),
        )
        + 1
    )
    end = page.index("</", start)
    shown: list[Any] = json.loads(html.unescape(page[start:end]))
    return shown


@pytest.mark.parametrize("who", ["operator", "signed_in"])
def test_a_webhook_is_shown_masked_to_editors_and_viewers(
    who: str, store: Store, request: pytest.FixtureRequest
) -> None:
    seed(store, {**AICONFIGS, "budgets": [HOOKED]})
    page = request.getfixturevalue(who).get(URL).content.decode()
    assert "hook-secret-4242" not in page
    assert shown_list(page) == [{**DAILY, "webhook": SHOWN}]


def test_saving_the_list_as_shown_keeps_the_stored_webhook_and_audits_it_masked(
    operator: Client, store: Store
) -> None:
    seed(store, {**AICONFIGS, "budgets": [HOOKED]})
    shown = shown_list(operator.get(URL).content.decode())
    shown[0]["limitUsd"] = 30
    assert operator.post(URL, form_data(store, shown)).status_code == 302
    assert load_document(store).body["budgets"] == [{**HOOKED, "limitUsd": 30}]
    [event] = store.list_audit(action="budgets.update")
    assert "hook-secret-4242" not in repr((event.before, event.after))
    audit_page = operator.get("/audit/").content.decode()
    assert "budgets.update" in audit_page and "hook-secret-4242" not in audit_page
    assert "hook-secret-4242" not in operator.get(URL).content.decode()


def test_a_whole_new_webhook_replaces_the_stored_one(operator: Client, store: Store) -> None:
    seed(store, {**AICONFIGS, "budgets": [HOOKED]})
    new = "https://alerts.example/hooks/new-secret-77"
    assert operator.post(URL, form_data(store, [{**DAILY, "webhook": new}])).status_code == 302
    assert load_document(store).body["budgets"][0]["webhook"] == new
    assert "new-secret-77" not in operator.get(URL).content.decode()


def test_a_masked_webhook_that_masks_no_stored_one_is_shown_beside_the_list(
    operator: Client, store: Store
) -> None:
    seed(store, {**AICONFIGS, "budgets": [HOOKED]})
    revision = load_document(store).revision
    masked = [{**DAILY, "webhook": "https://alerts.example/hooks/********"}]
    response = operator.post(URL, form_data(store, masked))
    assert response.status_code == 422
    page = response.content.decode()
    field = page[page.index('class="field invalid" id="field-budgets"') :]
    assert "masks no stored webhook" in field[: field.index("</textarea>") + 800]
    assert "hook-secret-4242" not in page
    assert load_document(store).revision == revision


NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


def spent(store: Store, at: datetime, entry: str, usd: float, tokens: int = 0) -> None:
    store.add_route_stats(
        [RouteStatsRollup(minute=at, entry_key=entry, calls=1, cost_usd=usd, tokens=tokens)]
    )


def bars(page: str, chart: str) -> dict[str, str]:
    """The chart's bars, day -> amount, from each bar's title."""
    svg = page[page.index(f'id="{chart}"') :]
    svg = svg[: svg.index("</svg>")]
    return dict(re.findall(r"<rect [^>]*><title>([\d-]+): ([^<]+)</title></rect>", svg))


def heights(page: str, chart: str) -> list[float]:
    svg = page[page.index(f'id="{chart}"') :]
    svg = svg[: svg.index("</svg>")]
    return [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]


def test_each_budget_charts_its_spend_per_day_over_two_weeks(
    signed_in: Client, store: Store
) -> None:
    mine = {"name": "claude only", "entry": "claude-main", "period": "month", "limitUsd": 100}
    tokens = {"name": "tokens", "period": "day", "limitTokens": 1000}
    seed(store, {**AICONFIGS, "budgets": [DAILY, mine, tokens]})
    spent(store, datetime(2026, 5, 9, 8, 30, tzinfo=UTC), "claude-main", 1.0, 300)
    spent(store, datetime(2026, 5, 9, 23, 59, tzinfo=UTC), "claude-main", 1.0, 300)
    spent(store, datetime(2026, 5, 10, 11, 59, tzinfo=UTC), "claude-main", 0.5, 100)
    spent(store, datetime(2026, 5, 10, 9, 0, tzinfo=UTC), "other", 0.25, 50)
    spent(store, datetime(2026, 4, 26, 23, 59, tzinfo=UTC), "other", 9.0)  # 15 days ago
    with CLOCK.frozen(NOW):
        page = signed_in.get(URL).content.decode()
    overall = bars(page, "trend-1")
    assert len(overall) == 14 and min(overall) == "2026-04-27" and max(overall) == "2026-05-10"
    assert (overall["2026-05-09"], overall["2026-05-10"]) == ("$2.0000", "$0.7500")
    assert set(overall.values()) == {"$0.0000", "$2.0000", "$0.7500"}
    *earlier, yesterday, today = heights(page, "trend-1")
    assert earlier == [0.0] * 12 and yesterday > 0
    assert today / yesterday == pytest.approx(0.75 / 2.0, rel=0.02)
    assert "daily limit: $10.0000" in page
    entry_only = bars(page, "trend-2")
    assert (entry_only["2026-05-09"], entry_only["2026-05-10"]) == ("$2.0000", "$0.5000")
    in_tokens = bars(page, "trend-3")
    assert (in_tokens["2026-05-09"], in_tokens["2026-05-10"]) == ("600 tokens", "150 tokens")
    assert "daily limit: 1,000 tokens" in page


def test_the_daily_chart_follows_todays_spend_at_each_poll(signed_in: Client, store: Store) -> None:
    seed(store, {**AICONFIGS, "budgets": [DAILY]})
    spent(store, datetime(2026, 5, 9, 10, 0, tzinfo=UTC), "claude-main", 2.0)
    htmx = {"HX-Request": "true"}
    with CLOCK.frozen(NOW):
        first = signed_in.get(URL, headers=htmx).content.decode()
        assert bars(first, "trend-1")["2026-05-10"] == "$0.0000"
        spent(store, datetime(2026, 5, 10, 11, 0, tzinfo=UTC), "claude-main", 1.5)
        later = signed_in.get(URL, headers=htmx).content.decode()
    assert bars(later, "trend-1")["2026-05-10"] == "$1.5000"
    assert bars(later, "trend-1")["2026-05-09"] == "$2.0000"


def test_no_budgets_no_chart(signed_in: Client, store: Store) -> None:
    seed(store)
    assert 'id="budget-trend"' not in signed_in.get(URL).content.decode()
