"""``/api/audit`` and ``/api/batches``: read-only lists for every role that may view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.store import AuditEvent, BatchRecord, BatchStatus, Store

from ..conftest import seed

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)


def test_the_audit_log_is_newest_first_and_filterable(signed_in: Client, store: Store) -> None:
    seed(store)
    release_kill_switch(store, actor="alice", reason="go")
    engage_kill_switch(store, actor="bob", reason="stop")
    response = signed_in.get("/api/audit")
    assert response.status_code == 200
    actions = [r["action"] for r in response.json()["records"]]
    assert actions == ["killswitch.engage", "killswitch.release", "seed"]

    response = signed_in.get("/api/audit", {"actor": "alice"})
    [record] = response.json()["records"]
    assert (record["actor"], record["reason"], record["target"]) == ("alice", "go", "kill_switch")
    # Any part of the actor and target, in any case.
    response = signed_in.get("/api/audit", {"actor": "LIC", "target": "kill"})
    assert [r["reason"] for r in response.json()["records"]] == ["go"]


def test_the_audit_log_pages_with_a_cursor(signed_in: Client, store: Store) -> None:
    for n in range(3):
        store.record_audit(AuditEvent(actor="a", action="note", target=f"t{n}"))
    first = signed_in.get("/api/audit", {"limit": 2}).json()
    assert [r["target"] for r in first["records"]] == ["t2", "t1"]
    second = signed_in.get("/api/audit", {"limit": 2, "before_id": first["next_before_id"]})
    body = second.json()
    assert [r["target"] for r in body["records"]] == ["t0"] and body["next_before_id"] is None


def test_a_bad_audit_query_gets_422_per_field(signed_in: Client, store: Store) -> None:
    response = signed_in.get("/api/audit", {"limit": 0})
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["limit"]


def batch(batch_id: str, status: BatchStatus, minutes: int) -> BatchRecord:
    return BatchRecord(
        id=batch_id,
        provider="anthropic",
        model="claude-sonnet-4-6",
        entry_key="anthropic:claude-sonnet-4-6",
        status=status,
        requests={"r1": "fingerprint-1"},
        created_at=T0 + timedelta(minutes=minutes),
    )


def test_the_batches_are_listed_newest_first_and_filter_by_status(
    signed_in: Client, store: Store
) -> None:
    store.insert_batch(batch("b1", BatchStatus.ENDED, 0))
    store.insert_batch(batch("b2", BatchStatus.IN_PROGRESS, 1))
    response = signed_in.get("/api/batches")
    assert response.status_code == 200
    rows = response.json()["batches"]
    assert [b["id"] for b in rows] == ["b2", "b1"]
    assert rows[0]["status"] == "in_progress" and "requests" not in rows[0]
    response = signed_in.get("/api/batches", {"status": "ended"})
    assert [b["id"] for b in response.json()["batches"]] == ["b1"]


def test_an_unknown_batch_status_gets_422(signed_in: Client, store: Store) -> None:
    response = signed_in.get("/api/batches", {"status": "lost"})
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["status"]


@pytest.mark.parametrize("url", ["/api/audit", "/api/batches"])
def test_anonymous_callers_get_401_and_outsiders_403(
    client: Client, outsider: Client, store: Store, url: str
) -> None:
    assert outsider.get(url).status_code == 403
    outsider.logout()
    response = client.get(url)
    assert response.status_code == 401 and response.json()["detail"]


@pytest.mark.parametrize("url", ["/api/audit", "/api/batches"])
def test_an_operator_reads_them_too(operator: Client, store: Store, url: str) -> None:
    assert operator.get(url).status_code == 200


@pytest.mark.parametrize("cursor", ["9" * 40, "²", "abc"])
def test_a_cursor_the_store_never_issued_is_a_422_not_a_server_error(
    signed_in: Client, store: Store, cursor: str
) -> None:
    # Found while probing the API beside the fuzz run: a 40-digit cursor overflowed
    # SQLite's INTEGER and answered 500.
    response = signed_in.get("/api/audit", {"before_id": cursor})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "before_id"
