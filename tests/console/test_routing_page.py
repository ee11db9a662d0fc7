"""The Routing page: settings edited with the core's rules, circuits forced and audited,
live fragments, and what a viewer and an outsider may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from llmopt.config import load_document
from llmopt.store import (
    IncidentRecord,
    RouteStatsRollup,
    RoutingDecisionRecord,
    Store,
    latency_bucket,
)

from .conftest import SECRET, seed

pytestmark = pytest.mark.django_db
URL = "/routing/"
FORCE_URL = "/routing/circuits/"
CLAUDE = "anthropic:claude-sonnet-4-6"
OLLAMA = "ollama:llama3.1"


def form_data(store: Store, **changes: Any) -> dict[str, Any]:
    data = {
        "revision": load_document(store).revision,
        "enabled": "on",
        "fallbackChain": f"{CLAUDE}\n{OLLAMA}",
        "optimize": "cost",
        "failureThreshold": "3",
        "windowSeconds": "60",
        "coolDownSeconds": "30",
        "halfOpenMaxCalls": "1",
        "rules": '[{"name": "private stays local", "when": {"privacy": "local"}, '
        f'"entries": ["{OLLAMA}"]}}]',
        "reason": "test",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_an_operator_sees_every_entry_with_its_circuit_and_the_kill_switch(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = operator.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert CLAUDE in page and OLLAMA in page
    assert "closed" in page
    # No kill switch record: the safe state, engaged, turns routing off.
    assert "Routing is off while the kill switch is engaged" in page
    assert 'id="routing-form"' in page and 'id="force-form"' in page
    assert SECRET not in page


def test_an_operator_saves_valid_settings_and_the_change_is_audited(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = operator.post(URL, form_data(store))
    assert response.status_code == 302
    routing = load_document(store).body["routing"]
    assert routing["enabled"] is True
    assert routing["fallbackChain"] == [CLAUDE, OLLAMA]
    assert routing["optimize"] == "cost"
    assert routing["circuitBreaker"]["failureThreshold"] == 3
    assert routing["rules"][0]["entries"] == [OLLAMA]
    [event] = store.list_audit(action="routing.update")
    assert event.reason == "test"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"rules": "[{not json"}, "rules", "not valid JSON"),
        ({"rules": '{"name": "x"}'}, "rules", "JSON list"),
        ({"rules": '[{"name": "x", "entries": ["nobody"]}]'}, "rules", "no llm entry"),
        ({"rules": '[{"name": "x", "colour": "red"}]'}, "rules", "not a routing setting"),
        ({"fallbackChain": "nobody"}, "fallbackChain", "no llm entry"),
        ({"failureThreshold": "0"}, "failureThreshold", "greater than or equal to 1"),
        ({"coolDownSeconds": "soon"}, "coolDownSeconds", "number"),
    ],
)
def test_an_invalid_value_is_shown_beside_its_field_and_nothing_is_written(
    operator: Client, store: Store, changes: dict[str, str], field: str, words: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = operator.post(URL, form_data(store, **changes))
    assert response.status_code == 422
    page = response.content.decode()
    start = page.index(f'class="field invalid" id="field-{field}"')
    assert words in page[start : page.index('<div class="field', start + 10)]
    assert load_document(store).revision == revision


def test_a_stale_revision_is_refused_and_says_to_reload(operator: Client, store: Store) -> None:
    seed(store)
    stale = form_data(store)
    assert operator.post(URL, form_data(store, optimize="quality")).status_code == 302
    revision = load_document(store).revision
    response = operator.post(URL, stale)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert "Reload" in response.content.decode()
    assert load_document(store).revision == revision
    assert load_document(store).body["routing"]["optimize"] == "quality"


def test_an_operator_forces_a_circuit_open_audited_with_an_incident_then_clears_it(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = operator.post(FORCE_URL, {"entry": OLLAMA, "state": "open", "reason": "maintenance"})
    assert response.status_code == 302
    assert store.circuits()[OLLAMA].forced == "open"
    [event] = store.list_audit(action="circuit.force")
    assert (event.target, event.reason) == (f"circuit:{OLLAMA}", "maintenance")
    [incident] = store.list_incidents()
    assert incident.kind == "circuit_forced" and incident.entry_key == OLLAMA
    page = operator.get(URL).content.decode()
    assert "open (forced)" in page and "maintenance" in page

    operator.post(FORCE_URL, {"entry": OLLAMA, "state": "clear", "reason": ""})
    assert store.circuits()[OLLAMA].forced is None
    assert store.list_audit(action="circuit.release")


def test_forcing_an_unknown_entry_is_a_404_and_changes_nothing(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = operator.post(FORCE_URL, {"entry": "nobody", "state": "open"})
    assert response.status_code == 404
    assert store.circuits() == {}


def test_a_viewer_reads_the_page_but_may_neither_save_nor_force(
    signed_in: Client, store: Store
) -> None:
    seed(store)
    response = signed_in.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="routing-form"' not in page and 'id="force-form"' not in page
    assert signed_in.post(URL, form_data(store)).status_code == 403
    assert signed_in.post(FORCE_URL, {"entry": OLLAMA, "state": "open"}).status_code == 403
    assert "routing" not in load_document(store).body
    assert store.circuits() == {}


def test_an_outsider_is_refused_everything(outsider: Client, store: Store) -> None:
    seed(store)
    assert outsider.get(URL).status_code == 403
    assert outsider.get(URL, {"part": "state"}, headers={"HX-Request": "true"}).status_code == 403
    assert outsider.post(URL, form_data(store)).status_code == 403
    assert outsider.post(FORCE_URL, {"entry": OLLAMA, "state": "open"}).status_code == 403
    assert store.circuits() == {}


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, store: Store) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def _decision(at: datetime, entry: str, reason: str) -> RoutingDecisionRecord:
    return RoutingDecisionRecord(at=at, entry_key=entry, reason=reason)


def test_the_decisions_fragment_polls_with_a_cursor_and_sends_only_news(
    signed_in: Client, store: Store
) -> None:
    seed(store)
    now = datetime.now(UTC)
    store.add_routing_decisions([_decision(now - timedelta(seconds=5), CLAUDE, "first reason")])
    htmx = {"HX-Request": "true"}
    first = signed_in.get(URL, {"part": "decisions"}, headers=htmx)
    assert first.status_code == 200
    body = first.content.decode()
    assert body.lstrip().startswith('<section class="card" id="routing-decisions"')
    assert "first reason" in body
    since = store.recent_routing_decisions(limit=1)[0].id
    assert f"since={since}" in body
    assert (
        signed_in.get(URL, {"part": "decisions", "since": since}, headers=htmx).status_code == 204
    )

    store.add_routing_decisions([_decision(now, OLLAMA, "second reason")])
    news = signed_in.get(URL, {"part": "decisions", "since": since}, headers=htmx)
    assert news.status_code == 200
    text = news.content.decode()
    assert text.index("second reason") < text.index("first reason")  # newest first


def test_the_incidents_fragment_lists_new_incidents(signed_in: Client, store: Store) -> None:
    seed(store)
    htmx = {"HX-Request": "true"}
    assert (
        "No incidents yet"
        in signed_in.get(URL, {"part": "incidents"}, headers=htmx).content.decode()
    )
    store.add_incidents(
        [
            IncidentRecord(
                at=datetime.now(UTC), entry_key=CLAUDE, kind="circuit_opened", detail="5 failures"
            )
        ]
    )
    response = signed_in.get(URL, {"part": "incidents", "since": ""}, headers=htmx)
    assert (
        "circuit_opened" in response.content.decode() and "5 failures" in response.content.decode()
    )


def test_the_state_fragment_shows_the_last_hour_per_entry(signed_in: Client, store: Store) -> None:
    seed(store)
    now = datetime.now(UTC)
    buckets = [0] * 13
    buckets[latency_bucket(80)] = 3
    buckets[latency_bucket(400)] = 1
    store.add_route_stats(
        [
            RouteStatsRollup(
                minute=now - timedelta(minutes=5),
                entry_key=CLAUDE,
                calls=4,
                errors={"rate_limit": 1},
                latency_buckets=buckets,
                latency_ms_sum=640,
                cost_usd=0.02,
            ),
            RouteStatsRollup(minute=now - timedelta(hours=2), entry_key=CLAUDE, calls=100),
        ]
    )
    response = signed_in.get(URL, {"part": "state"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="routing-state"')
    row = text[text.index('id="stats-1"') :]
    row = row[: row.index("</tr>")]
    assert ">4<" in row  # the calls of the last hour only
    assert "25%" in row  # one error in four
    assert "≤100 ms" in row and "≤500 ms" in row  # p50 and p95 bucket bounds
    assert "$0.00500" in row


def test_an_unknown_part_is_a_400(signed_in: Client, store: Store) -> None:
    seed(store)
    response = signed_in.get(URL, {"part": "nothing"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
