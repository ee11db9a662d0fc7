from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.test import Client

from console.broker import EMBEDDED_BROKER_URL, embedded_transport_options
from llmopt.errors import StoreError
from llmopt.store import Store

from ..celery_support import use_broker
from ..demo_process import free_port
from ..redis_server import REDIS_PASSWORD, running_redis

BROKER_PASSWORD = "hunter2-broker-secret"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


@pytest.fixture
def embedded_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_broker(monkeypatch, EMBEDDED_BROKER_URL, embedded_transport_options(tmp_path))


def test_healthz_answers_ok_without_a_login(
    client: Client, store: Store, embedded_broker: None
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": "ok", "broker": "ok"}


def test_healthz_is_503_when_the_store_is_unreachable(
    client: Client, store: Store, embedded_broker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise StoreError("unable to open database file /secret/path")

    monkeypatch.setattr(store, "ping", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "store": "unreachable", "broker": "ok"}
    assert "/secret/path" not in response.content.decode()


def test_healthz_is_503_when_the_redis_broker_is_down_and_never_shows_its_password(
    client: Client,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_broker(monkeypatch, f"redis://:{BROKER_PASSWORD}@127.0.0.1:{closed_port()}/0", {})
    with caplog.at_level(logging.DEBUG):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "store": "ok", "broker": "unreachable"}
    assert "health check: broker unreachable: redis://" in caplog.text
    assert BROKER_PASSWORD not in caplog.text
    assert BROKER_PASSWORD not in response.content.decode()


def test_healthz_follows_a_real_redis_broker_going_down(
    client: Client,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    with running_redis(tmp_path / "redis") as url:
        use_broker(monkeypatch, url, {})
        up = client.get("/healthz")
    with caplog.at_level(logging.DEBUG):
        down = client.get("/healthz")  # the same URL, the server stopped
    assert up.status_code == 200
    assert up.json() == {"status": "ok", "store": "ok", "broker": "ok"}
    assert down.status_code == 503
    assert down.json()["broker"] == "unreachable"
    assert REDIS_PASSWORD not in caplog.text + up.content.decode() + down.content.decode()


def test_healthz_is_503_when_the_embedded_brokers_queue_folder_is_gone(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    options = embedded_transport_options(tmp_path)
    (tmp_path / "broker" / "queue").rmdir()
    use_broker(monkeypatch, EMBEDDED_BROKER_URL, options)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable"
