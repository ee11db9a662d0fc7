"""The API as a whole: its OpenAPI schema is true, and no response ever carries an API key."""

from __future__ import annotations

import pytest
from django.test import Client

from llmopt.config import load_document
from llmopt.store import Store

from ..conftest import SECRET, seed

pytestmark = pytest.mark.django_db
KEY = "anthropic:claude-sonnet-4-6"


def test_the_openapi_schema_lists_every_endpoint_with_its_error_responses(
    signed_in: Client,
) -> None:
    response = signed_in.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths) >= {
        "/api/config",
        "/api/config/{key}",
        "/api/kill-switch",
        "/api/audit",
        "/api/batches",
    }
    assert set(paths["/api/config/{key}"]) == {"get", "patch"}
    assert set(paths["/api/kill-switch"]) == {"get", "post"}
    assert {"200", "401", "403", "404", "409", "422"} <= set(
        paths["/api/config/{key}"]["patch"]["responses"]
    )


def test_the_docs_page_is_served_to_signed_in_users(signed_in: Client) -> None:
    assert signed_in.get("/api/docs").status_code == 200


def test_the_seeded_api_key_appears_in_no_response(operator: Client, store: Store) -> None:
    seed(store)
    revision = load_document(store).revision
    bodies = [
        operator.patch(
            f"/api/config/{KEY}",
            {"flags": {"cacheTTL": 3600}, "revision": revision},
            content_type="application/json",
        ),
        operator.patch(
            f"/api/config/{KEY}",
            {"flags": {"cacheTTL": 7}, "revision": load_document(store).revision},
            content_type="application/json",
        ),
        operator.patch(
            f"/api/config/{KEY}",
            {"flags": {"cacheTTL": 300}, "revision": revision},
            content_type="application/json",
        ),
        operator.post("/api/kill-switch", {"engaged": True}, content_type="application/json"),
        operator.get("/api/config"),
        operator.get(f"/api/config/{KEY}"),
        operator.get("/api/kill-switch"),
        operator.get("/api/audit"),
        operator.get("/api/batches"),
    ]
    assert [r.status_code for r in bodies] == [200, 422, 409, 200, 200, 200, 200, 200, 200]
    for response in bodies:
        assert SECRET not in response.content.decode()
    assert "apiKey" in bodies[-2].content.decode()  # the audit diff names it, masked
