"""Failures Django answers itself under ``/api/`` come in the API's envelope too."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from llmopt.store import Store

from ..conftest import seed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ["anonymous", "viewer"])
def test_a_path_with_no_operation_is_a_404_envelope_pointing_at_the_docs(
    client: Client, signed_in: Client, who: str
) -> None:
    caller = client if who == "anonymous" else signed_in
    if who == "anonymous":
        caller.logout()
    response = caller.get("/api/alerts/rollback")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    detail = response.json()["detail"]
    assert "GET /api/alerts/rollback" in detail and "/api/docs" in detail


@pytest.mark.parametrize("who", ["anonymous", "viewer"])
def test_the_api_root_is_a_404_envelope_not_a_crash(
    client: Client, signed_in: Client, who: str
) -> None:
    caller = client if who == "anonymous" else signed_in
    if who == "anonymous":
        caller.logout()
    response = caller.get("/api/")
    assert response.status_code == 404
    assert "/api/docs" in response.json()["detail"]


def test_a_method_an_operation_does_not_take_is_a_405_envelope_keeping_allow(
    operator: Client, store: Store
) -> None:
    seed(store)
    before = operator.get("/api/kill-switch").json()
    response = operator.delete("/api/kill-switch")
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert "DELETE /api/kill-switch is not allowed" in response.json()["detail"]
    assert operator.get("/api/kill-switch").json() == before  # nothing happened


def test_a_crash_is_a_500_envelope_that_is_logged_and_says_nothing_of_its_cause(
    signed_in: Client,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed(store)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("internal detail that callers must not see")

    monkeypatch.setattr("console.api.killswitch.read_kill_switch", broken)
    with caplog.at_level(logging.ERROR, logger="console.api"):
        response = signed_in.get("/api/kill-switch")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert "internal error" in response.json()["detail"]
    assert "internal detail" not in response.content.decode()
    assert "internal detail that callers must not see" in caplog.text
    assert "GET /api/kill-switch failed" in caplog.text


def test_pages_outside_the_api_keep_django_s_html_answers(signed_in: Client) -> None:
    response = signed_in.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
