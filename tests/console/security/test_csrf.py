"""CSRF: a signed-in browser's unsafe requests need the token; API token calls need none."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from llmopt.killswitch import read_kill_switch

from ..conftest import user_in
from ..crawl import UNSAFE_METHODS, Site, operations, pages, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(django_user_model: Any) -> Client:
    """An operator's browser whose requests Django checks for CSRF, as a real one's are."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_in(django_user_model, "operator"))
    return client


def test_every_unsafe_page_request_without_the_csrf_token_is_refused(
    released_site: Site, browser: Client
) -> None:
    before = snapshot(released_site.store)
    failures = []
    for page in pages(released_site.samples):
        for method in UNSAFE_METHODS:
            response = getattr(browser, method)(page.url, data={"action": "engage"})
            if response.status_code != 403:
                failures.append(f"{method.upper()} {page.url} → {response.status_code}")
    assert failures == []
    assert snapshot(released_site.store) == before


def test_every_unsafe_api_call_on_a_session_without_the_csrf_token_is_refused(
    released_site: Site, browser: Client
) -> None:
    before = snapshot(released_site.store)
    failures = []
    for op in operations(released_site.samples):
        if op.method == "get":
            continue
        body = {"engaged": True, "flags": {"cacheTTL": 3600}, "revision": "x"}
        response = getattr(browser, op.method)(op.url, data=body, content_type="application/json")
        if response.status_code != 403 or "CSRF" not in response.json()["detail"]:
            failures.append(f"{op} → {response.status_code}")
    assert failures == []
    assert snapshot(released_site.store) == before


def test_the_same_session_call_with_the_csrf_token_goes_through(
    released_site: Site, browser: Client
) -> None:
    browser.get("/rollback/")  # the page sets the CSRF cookie, as it does for htmx
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/kill-switch",
        {"engaged": True},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    assert read_kill_switch(released_site.store).engaged is True


def test_a_token_call_needs_no_csrf_token(released_site: Site) -> None:
    response = Client(enforce_csrf_checks=True).post(
        "/api/kill-switch",
        {"engaged": True},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {released_site.operator_token}",
    )
    assert response.status_code == 200
    assert read_kill_switch(released_site.store).engaged is True
