"""``/api/routing``: settings and state read by every role, saved and forced by editors,
validated by the core (422, nothing written), stale saves refused (409)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from llmopt.config import load_document
from llmopt.store import RoutingDecisionRecord, Store

from .conftest import SECRET, seed

pytestmark = pytest.mark.django_db
URL = "/api/routing"
CLAUDE = "anthropic:claude-sonnet-4-6"
OLLAMA = "ollama:llama3.1"
FORCE_URL = f"{URL}/circuits/{OLLAMA}"


def put(client: Client, body: dict[str, Any]) -> Any:
    return client.put(URL, body, content_type="application/json")


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def routing_body(store: Store, routing: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "routing": routing or {"enabled": True, "fallbackChain": [OLLAMA, CLAUDE]},
        "revision": load_document(store).revision,
        "reason": "api test",
    }


def test_a_viewer_reads_settings_circuits_stats_and_decisions(
    signed_in: Client, store: Store
) -> None:
    seed(store)
    store.add_routing_decisions(
        [RoutingDecisionRecord(at=datetime.now(UTC), entry_key=CLAUDE, reason="cheapest fit")]
    )
    response = signed_in.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["revision"] == load_document(store).revision
    assert body["killSwitchEngaged"] is True
    assert body["routing"] == {}
    assert body["settings"]["enabled"] is False
    assert body["settings"]["circuitBreaker"]["failureThreshold"] == 5
    assert [c["entryKey"] for c in body["circuits"]] == [CLAUDE, OLLAMA]
    assert {c["state"] for c in body["circuits"]} == {"closed"}
    assert [s["calls"] for s in body["stats"]] == [0, 0]
    assert body["decisions"][0]["reason"] == "cheapest fit"
    assert SECRET not in response.content.decode()


def test_an_operator_saves_the_routing_object_audited(operator: Client, store: Store) -> None:
    seed(store)
    response = put(operator, routing_body(store))
    assert response.status_code == 200
    assert response.json()["routing"] == {"enabled": True, "fallbackChain": [OLLAMA, CLAUDE]}
    assert load_document(store).body["routing"]["fallbackChain"] == [OLLAMA, CLAUDE]
    [event] = store.list_audit(action="routing.update")
    assert event.actor == "operator" and event.reason == "api test"


@pytest.mark.parametrize(
    ("routing", "field"),
    [
        ({"fallbackChain": ["nobody"]}, "routing.fallbackChain"),
        ({"circuitBreaker": {"failureThreshold": 0}}, "routing.circuitBreaker.failureThreshold"),
        ({"optimize": "vibes"}, "routing.optimize"),
        ({"rules": [{"name": "r", "entries": ["nobody"]}]}, "routing.rules[0]"),
        ({"colour": "red"}, "routing.colour"),
    ],
)
def test_invalid_routing_is_a_422_with_each_problem_and_nothing_is_written(
    operator: Client, store: Store, routing: dict[str, Any], field: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = put(operator, routing_body(store, routing))
    assert response.status_code == 422
    assert field in [problem["field"] for problem in response.json()["detail"]]
    assert load_document(store).revision == revision


def test_a_stale_revision_is_a_409_with_the_current_revision(
    operator: Client, store: Store
) -> None:
    seed(store)
    stale = routing_body(store)
    assert put(operator, routing_body(store, {"optimize": "cost"})).status_code == 200
    response = put(operator, stale)
    assert response.status_code == 409
    assert response.json()["revision"] == load_document(store).revision
    assert "someone else" in response.json()["detail"]
    assert load_document(store).body["routing"] == {"optimize": "cost"}


def test_an_operator_forces_a_circuit_open_audited_then_clears_it(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = post(operator, FORCE_URL, {"state": "open", "reason": "provider outage"})
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["forced"]) == ("open", "open")
    assert "provider outage" in body["reason"]
    [event] = store.list_audit(action="circuit.force")
    assert event.reason == "provider outage"
    assert store.list_incidents()[0].kind == "circuit_forced"
    circuits = {c["entryKey"]: c for c in operator.get(URL).json()["circuits"]}
    assert circuits[OLLAMA]["forced"] == "open"

    cleared = post(operator, FORCE_URL, {"state": None, "reason": ""})
    assert cleared.status_code == 200 and cleared.json()["forced"] is None
    assert store.list_audit(action="circuit.release")


@pytest.mark.parametrize(
    "body", [{"state": "sideways"}, {"state": "open", "colour": "red"}, {"state": 1}]
)
def test_a_bad_force_is_a_422_and_changes_nothing(
    operator: Client, store: Store, body: dict[str, Any]
) -> None:
    seed(store)
    assert post(operator, FORCE_URL, body).status_code == 422
    assert store.circuits() == {}


def test_forcing_an_unknown_entry_is_a_404(operator: Client, store: Store) -> None:
    seed(store)
    response = post(operator, f"{URL}/circuits/nobody", {"state": "open"})
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_a_viewer_may_neither_save_nor_force(signed_in: Client, store: Store) -> None:
    seed(store)
    assert put(signed_in, routing_body(store)).status_code == 403
    assert post(signed_in, FORCE_URL, {"state": "open"}).status_code == 403
    assert "routing" not in load_document(store).body
    assert store.circuits() == {}


def test_an_outsider_and_an_anonymous_caller_are_refused(
    outsider: Client, store: Store, client: Client
) -> None:
    seed(store)
    assert outsider.get(URL).status_code == 403
    assert put(outsider, routing_body(store)).status_code == 403
    assert post(outsider, FORCE_URL, {"state": "open"}).status_code == 403
    outsider.logout()
    assert client.get(URL).status_code == 401
    assert store.circuits() == {}


def test_the_openapi_schema_lists_the_routing_operations_with_their_errors(
    signed_in: Client,
) -> None:
    paths = signed_in.get("/api/openapi.json").json()["paths"]
    assert set(paths[URL]) == {"get", "put"}
    assert {"200", "401", "403", "409", "422"} <= set(paths[URL]["put"]["responses"])
    force = paths["/api/routing/circuits/{key}"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(force)
