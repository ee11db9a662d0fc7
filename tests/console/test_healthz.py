from __future__ import annotations

import pytest
from django.test import Client

from llmopt.errors import StoreError
from llmopt.store import Store


def test_healthz_answers_ok_without_a_login(client: Client, store: Store) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": "ok"}


def test_healthz_is_503_when_the_store_is_unreachable(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise StoreError("unable to open database file /secret/path")

    monkeypatch.setattr(store, "ping", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "store": "unreachable"}
    assert "/secret/path" not in response.content.decode()
