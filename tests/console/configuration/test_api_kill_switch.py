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


@pytest.mark.parametrize("value", ["yes", "on", "1", 1, "True", "true", 0, None, [True]])
def test_engaged_must_be_a_json_boolean_or_nothing_changes(
    operator: Client, store: Store, value: Any
) -> None:
    release_kill_switch(store, actor="setup")
    response = post(operator, {"engaged": value, "reason": "alert rule"})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "engaged" and "true or false" in problem["message"]
    assert read_kill_switch(store).engaged is False
    assert store.list_audit(action=ACTION_ENGAGE) == []


@pytest.mark.parametrize("value", [5, True, None])
def test_the_reason_must_be_a_string(operator: Client, store: Store, value: Any) -> None:
    release_kill_switch(store, actor="setup")
    response = post(operator, {"engaged": True, "reason": value})
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["reason"]
    assert read_kill_switch(store).engaged is False


def test_an_unknown_field_is_refused_by_name(operator: Client, store: Store) -> None:
    release_kill_switch(store, actor="setup")
    response = post(operator, {"engaged": True, "force": True})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "force" and "force" in problem["message"]
    assert read_kill_switch(store).engaged is False


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("x" * 501, "at most 500 characters (got 501)"),
        ("spike\u202e", "U+202E"),
        ("spike\x00", "U+0000"),
        ("two\nlines", "U+000A"),
    ],
)
def test_a_reason_the_free_text_rule_refuses_is_a_422_on_reason(
    operator: Client, store: Store, reason: str, says: str
) -> None:
    release_kill_switch(store, actor="setup")
    response = post(operator, {"engaged": True, "reason": reason})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "reason" and says in problem["message"]
    assert read_kill_switch(store).engaged is False


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_json_body_sent_as_another_media_type_is_refused_with_415(
    operator: Client, store: Store, content_type: str
) -> None:
    release_kill_switch(store, actor="setup")
    response = operator.post(URL, '{"engaged": true}', content_type=content_type)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert read_kill_switch(store).engaged is False


def test_a_json_body_with_a_charset_is_accepted(operator: Client, store: Store) -> None:
    release_kill_switch(store, actor="setup")
    response = operator.post(
        URL, '{"engaged": true}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200 and read_kill_switch(store).engaged is True


def test_a_body_of_megabytes_is_refused_with_413_in_the_envelope(
    operator: Client, store: Store
) -> None:
    release_kill_switch(store, actor="setup")
    body = '{"engaged": true, "reason": "' + "x" * 3_000_000 + '"}'
    response = operator.post(URL, body, content_type="application/json")
    assert response.status_code == 413
    assert "at most" in response.json()["detail"]
    assert read_kill_switch(store).engaged is False
