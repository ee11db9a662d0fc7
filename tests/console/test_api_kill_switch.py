"""``/api/kill-switch``: read by viewers, engaged and released by operators, always audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from llmopt.killswitch import ACTION_ENGAGE, ACTION_RELEASE, read_kill_switch, release_kill_switch
from llmopt.store import Store

pytestmark = pytest.mark.django_db
URL = "/api/kill-switch"


def post(client: Client, body: dict[str, Any]) -> Any:
    return client.post(URL, body, content_type="application/json")


def test_a_missing_record_reads_as_engaged_with_the_reason(signed_in: Client, store: Store) -> None:
    response = signed_in.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["engaged"] is True and body["problem"]


def test_an_operator_engages_and_releases_it_and_both_are_audited(
    operator: Client, store: Store
) -> None:
    release_kill_switch(store, actor="setup")
    response = post(operator, {"engaged": True, "reason": "bad deploy"})
    assert response.status_code == 200
    body = response.json()
    assert (body["engaged"], body["actor"], body["reason"]) == (True, "operator", "bad deploy")
    assert body["changedAt"] and body["problem"] is None
    assert read_kill_switch(store).engaged is True

    response = post(operator, {"engaged": False, "reason": "fixed"})
    assert response.status_code == 200 and response.json()["engaged"] is False
    assert read_kill_switch(store).engaged is False

    [engage] = store.list_audit(action=ACTION_ENGAGE, actor="operator")
    [release] = store.list_audit(action=ACTION_RELEASE, actor="operator")
    assert (engage.reason, release.reason) == ("bad deploy", "fixed")


def test_a_viewer_may_read_it_but_not_change_it(signed_in: Client, store: Store) -> None:
    release_kill_switch(store, actor="setup")
    assert signed_in.get(URL).status_code == 200
    response = post(signed_in, {"engaged": True})
    assert response.status_code == 403
    assert "operate" in response.json()["detail"]
    assert read_kill_switch(store).engaged is False


def test_anonymous_callers_get_401(client: Client, store: Store) -> None:
    release_kill_switch(store, actor="setup")
    assert client.get(URL).status_code == 401
    response = post(client, {"engaged": True})
    assert response.status_code == 401 and response.json()["detail"]
    assert read_kill_switch(store).engaged is False


def test_a_body_without_engaged_gets_422(operator: Client, store: Store) -> None:
    response = post(operator, {"reason": "?"})
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["engaged"]
