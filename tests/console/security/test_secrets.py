"""Secrets stay secret: crawling every URL shows the seeded API key in no page, response or log.

Nor does any API token appear after the one response that issues it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from llmopt.config import load_document

from ..conftest import SECRET, user_in
from ..crawl import KEY, Site, every_log_line, operations, pages

pytestmark = pytest.mark.django_db


def crawl(client: Client, site: Site, **auth: Any) -> list[str]:
    """GET every page (plain and as htmx) and API read, and try each change; the bodies."""
    bodies = []
    for page in pages(site.samples):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(page.url, follow=True, **headers)
            bodies.append(f"GET {page.url} {response.status_code}\n{response.content.decode()}")
    for op in operations(site.samples):
        if op.method == "get":
            response = client.get(op.url, **auth)
            bodies.append(f"{op} {response.status_code}\n{response.content.decode()}")
    revision = load_document(site.store).revision
    changes = [
        ("patch", f"/api/config/{KEY}", {"flags": {"cacheTTL": 7}, "revision": revision}),
        ("patch", f"/api/config/{KEY}", {"flags": {"cacheTTL": 3600}, "revision": revision}),
        ("patch", f"/api/config/{KEY}", {"flags": {"cacheTTL": 300}, "revision": revision}),
        ("post", "/api/kill-switch", {"engaged": True, "reason": "crawl"}),
    ]
    for method, url, body in changes:
        response = getattr(client, method)(url, body, content_type="application/json", **auth)
        bodies.append(f"{method} {url} {response.status_code}\n{response.content.decode()}")
    edit = f"/config/entry/?key={KEY}"
    for form in ({"revision": "stale", "cacheTTL": "7"}, {"revision": revision}):
        response = client.post(edit, form, follow=True)
        bodies.append(f"POST {edit} {response.status_code}\n{response.content.decode()}")
    return bodies


@pytest.mark.parametrize("who", ["operator", "superuser"])
def test_the_api_key_is_in_no_page_response_or_log_line(
    site: Site, client: Client, django_user_model: Any, who: str
) -> None:
    if who == "superuser":
        user = django_user_model.objects.create_superuser("root", password="pw-root-1")
    else:
        user = user_in(django_user_model, "operator")
    client.force_login(user)
    with every_log_line() as lines:
        bodies = crawl(client, site)
        bodies += crawl(Client(), site, HTTP_AUTHORIZATION=f"Bearer {site.operator_token}")
        call_command("llmopt_status")
    assert len(bodies) > 40 and lines  # the crawl really ran, and logging was captured
    for text in bodies + lines:
        assert SECRET not in text, text[:200]
        assert site.operator_token not in text, text[:200]
    # the key's presence is still visible to the people who need to know it is set
    assert any("apiKey" in body for body in bodies)


def test_a_new_token_is_shown_once_and_never_again(
    site: Site, client: Client, django_user_model: Any
) -> None:
    admin = django_user_model.objects.create_superuser("root", password="pw-root-1")
    client.force_login(admin)
    with every_log_line() as lines:
        issued = client.post("/tokens/", {"user": admin.pk, "name": "once"})
        [secret] = re.findall(r"llmopt_[\w-]{43}", issued.content.decode())
        later = [client.get(page.url, follow=True) for page in pages(site.samples)]
        later.append(client.get("/api/audit", HTTP_AUTHORIZATION=f"Bearer {secret}"))
    assert later[-1].status_code == 200
    for response in later:
        assert secret not in response.content.decode()
    assert not [line for line in lines if secret in line]
