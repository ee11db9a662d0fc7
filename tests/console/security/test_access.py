"""Access control over every URL: anonymous visitors are turned away, viewers change nothing.

The URLs come from the resolver and the OpenAPI schema (``crawl``), so pages and
endpoints added later are checked too.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from console.accounts.tokens import issue_token

from ..conftest import user_in
from ..crawl import (
    ALL_METHODS,
    UNSAFE_METHODS,
    Site,
    api_routes,
    lands_on_login,
    operations,
    pages,
    snapshot,
)

pytestmark = pytest.mark.django_db


def call(client: Client, method: str, url: str, **extra: Any) -> Any:
    return getattr(client, method)(url, **extra)


def test_the_crawl_finds_the_pages_and_every_api_route_is_in_the_schema(site: Site) -> None:
    names = {page.name for page in pages(site.samples)}
    assert {"home", "config-list", "config-edit", "rollback", "audit", "tokens"} <= names
    assert {"token-revoke", "users", "password-change", "login", "healthz"} <= names
    # Django's admin would change users with no record in the audit log: it is not served.
    assert not any(page.url.startswith("/admin") for page in pages(site.samples))
    documented = {op.template for op in operations(site.samples)}
    # An operation hidden from the schema would escape every API check below.
    assert api_routes() <= documented


def test_every_page_sends_anonymous_visitors_to_sign_in_for_every_method(site: Site) -> None:
    client = Client()
    before = snapshot(site.store)
    failures = []
    for page in pages(site.samples):
        if page.public:
            continue
        for method in ALL_METHODS:
            response = call(client, method, page.url)
            if not _refused(client, method, response):
                failures.append(f"{method.upper()} {page.url} → {response.status_code}")
    assert failures == []
    assert snapshot(site.store) == before


def _refused(client: Client, method: str, response: Any) -> bool:
    # Class-based views answer OPTIONS with an empty 200 listing their methods: no content.
    empty_options = method == "options" and response.status_code == 200 and not response.content
    return response.status_code == 405 or empty_options or lands_on_login(client, response)


def test_every_api_operation_answers_anonymous_callers_401_with_the_envelope(site: Site) -> None:
    client = Client()
    before = snapshot(site.store)
    failures = []
    for op in operations(site.samples):
        response = call(client, op.method, op.url, data={}, content_type="application/json")
        if response.status_code != 401 or not response.json().get("detail"):
            failures.append(f"{op} → {response.status_code} {response.content[:80]!r}")
    assert failures == []
    assert snapshot(site.store) == before


def test_a_method_the_api_does_not_document_is_405_not_served(site: Site) -> None:
    by_url: dict[str, set[str]] = {}
    for op in operations(site.samples):
        by_url.setdefault(op.url, set()).add(op.method)
    client = Client()
    for url, methods in by_url.items():
        for method in set(ALL_METHODS) - methods - {"head", "options"}:
            assert call(client, method, url).status_code == 405, f"{method} {url}"


def test_a_viewer_cannot_change_anything_through_any_page(site: Site, signed_in: Client) -> None:
    before = snapshot(site.store)
    failures = []
    for page in pages(site.samples):
        if page.public or page.name in ("logout", "password-change"):
            continue  # signing in and out, and one's own password, are everyone's
        for method in UNSAFE_METHODS:
            response = call(signed_in, method, page.url, data={"action": "engage", "name": "x"})
            if response.status_code not in (403, 405):
                failures.append(f"{method.upper()} {page.url} → {response.status_code}")
    assert failures == []
    assert snapshot(site.store) == before


@pytest.mark.parametrize("credential", ["session", "token"])
def test_a_viewer_gets_403_from_every_api_mutation(
    site: Site, client: Client, django_user_model: Any, credential: str
) -> None:
    viewer = user_in(django_user_model, "viewer")
    extra: dict[str, Any] = {}
    if credential == "session":
        client.force_login(viewer)
    else:
        extra["HTTP_AUTHORIZATION"] = "Bearer " + issue_token(viewer, "ro", actor="setup")[1]
    before = snapshot(site.store)
    failures = []
    for op in operations(site.samples):
        if not op.changes:
            continue
        body = {"engaged": True, "flags": {"cacheTTL": 3600}, "revision": "x"}
        response = call(
            client, op.method, op.url, data=body, content_type="application/json", **extra
        )
        if response.status_code != 403 or not response.json().get("detail"):
            failures.append(f"{op} → {response.status_code}")
    assert failures == []
    assert snapshot(site.store) == before
