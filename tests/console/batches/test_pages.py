"""``/batches/`` and ``/batches/<id>/`` over a seeded ledger, and the batch API's reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from llmopt.store import BatchRecord, BatchStatus, Store

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
HX = {"HTTP_HX_REQUEST": "true"}


def batch(n: int, status: BatchStatus = BatchStatus.ENDED, entry: str = "main") -> BatchRecord:
    return BatchRecord(
        id=f"b{n:03d}",
        provider="anthropic",
        model="claude-sonnet-4-6",
        entry_key=entry,
        provider_batch_id=f"msgbatch_{n}",
        status=status,
        request_counts={"processing": 0, "succeeded": 3, "errored": 1, "canceled": 0, "expired": 0},
        requests={f"r{i}": f"fingerprint-{i}" for i in range(4)},
        created_at=T0 + timedelta(minutes=n),
        submitted_at=T0 + timedelta(minutes=n),
        ended_at=T0 + timedelta(minutes=n + 3) if status is BatchStatus.ENDED else None,
        cost_estimate_usd=0.0125 if status is BatchStatus.ENDED else None,
        error="boom: provider said no" if status is BatchStatus.FAILED else None,
    )


def ids(html: str) -> list[str]:
    return re.findall(r'<tr id="batch-(b\d+)"', html)


def test_the_list_is_newest_first_and_paged_by_fifty(signed_in: Client, store: Store) -> None:
    for n in range(120):
        store.insert_batch(batch(n))

    first = signed_in.get("/batches/").content.decode()
    assert ids(first) == [f"b{n:03d}" for n in range(119, 69, -1)]
    assert "120 batches · page 1 of 3" in first and 'id="newer"' not in first
    third = signed_in.get("/batches/", {"page": 3}).content.decode()
    assert ids(third) == [f"b{n:03d}" for n in range(19, -1, -1)] and 'id="older"' not in third
    assert "$0.0125" in first and "4 / 4 (100%)" in first and "3m 00s" in first


def test_the_list_filters_by_status_and_entry_and_pages_within_the_filter(
    signed_in: Client, store: Store
) -> None:
    store.insert_batch(batch(1, BatchStatus.ENDED, "main"))
    store.insert_batch(batch(2, BatchStatus.IN_PROGRESS, "main"))
    store.insert_batch(batch(3, BatchStatus.PENDING, "other"))
    store.insert_batch(batch(4, BatchStatus.FAILED, "other"))

    assert ids(signed_in.get("/batches/", {"status": "ended"}).content.decode()) == ["b001"]
    assert ids(signed_in.get("/batches/", {"status": "active"}).content.decode()) == [
        "b003",
        "b002",
    ]
    assert ids(signed_in.get("/batches/", {"entry": "other"}).content.decode()) == ["b004", "b003"]
    html = signed_in.get("/batches/", {"entry": "other", "status": "failed"}).content.decode()
    assert ids(html) == ["b004"]
    assert ids(signed_in.get("/batches/", {"entry": "nobody"}).content.decode()) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [({"status": "lost"}, "status must be one of"), ({"page": "zero"}, "page must be")],
)
def test_a_bad_filter_is_a_400_that_says_what_is_wrong(
    signed_in: Client, store: Store, query: dict[str, str], message: str
) -> None:
    response = signed_in.get("/batches/", query)
    assert response.status_code == 400 and message in response.content.decode()


def test_the_table_polls_fast_while_in_flight_slowly_on_the_first_page_and_not_on_older_ones(
    signed_in: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.insert_batch(batch(1, BatchStatus.ENDED))
    store.insert_batch(batch(2, BatchStatus.IN_PROGRESS))

    live = signed_in.get("/batches/", **HX)
    html = live.content.decode()
    assert live.status_code == 200 and "every 2s" in html and "updating live" in html
    assert "visibilitychange" in html and 'data-poll-hidden="30s"' in html
    assert "<html" not in html
    assert live["Vary"] and "HX-Request" in live["Vary"]

    # Nothing shown in flight, first page: watched slowly for batches yet to come.
    ended = signed_in.get("/batches/", {"status": "ended"}, **HX)
    html = ended.content.decode()
    assert ended.status_code == 200 and "every 2s" not in html
    assert "every 15s" in html and 'data-poll-hidden="60s"' in html

    # An older page with nothing in flight only changes when batches are pruned: no polling.
    monkeypatch.setattr("console.batches.views.PAGE_SIZE", 1)
    older = signed_in.get("/batches/", {"page": 2}, **HX)
    assert ids(older.content.decode()) == ["b001"]
    assert older.status_code == 286 and "hx-trigger" not in older.content.decode()


def test_the_detail_shows_every_field_counts_and_the_error(signed_in: Client, store: Store) -> None:
    store.insert_batch(batch(7, BatchStatus.FAILED))
    html = signed_in.get("/batches/b007/").content.decode()
    assert "msgbatch_7" in html and "claude-sonnet-4-6" in html and "main" in html
    assert re.search(r'id="count-succeeded">3<', html) and re.search(r'id="count-errored">1<', html)
    assert "boom: provider said no" in html
    assert "fingerprint-" not in html
    fragment = signed_in.get("/batches/b007/", **HX)
    assert fragment.status_code == 286 and 'id="batch-live"' in fragment.content.decode()


def test_a_batch_page_shows_the_same_bar_as_its_row_in_the_list(
    signed_in: Client, store: Store
) -> None:
    store.insert_batch(batch(2, BatchStatus.IN_PROGRESS))
    bar = re.compile(r'<div class="batch-bar.*?</div>')
    [in_list] = bar.findall(signed_in.get("/batches/").content.decode())
    [on_page] = bar.findall(signed_in.get("/batches/b002/").content.decode())
    assert in_list == on_page and "4 / 4 (100%)" in on_page


def test_an_unknown_batch_is_a_404_on_the_page_and_the_api(signed_in: Client, store: Store) -> None:
    assert signed_in.get("/batches/nope/").status_code == 404
    response = signed_in.get("/api/batches/nope")
    assert response.status_code == 404 and "nope" in response.json()["detail"]


def test_operators_see_the_cancel_button_only_for_batches_in_flight(
    operator: Client, store: Store
) -> None:
    store.insert_batch(batch(1, BatchStatus.ENDED))
    store.insert_batch(batch(2, BatchStatus.IN_PROGRESS))
    assert 'id="cancel-form"' not in operator.get("/batches/b001/").content.decode()
    assert 'id="cancel-form"' in operator.get("/batches/b002/").content.decode()


def test_cancelling_a_batch_that_never_reached_the_provider_changes_nothing(
    operator: Client, store: Store
) -> None:
    pending = batch(1, BatchStatus.PENDING).model_copy(update={"provider_batch_id": None})
    store.insert_batch(pending)
    response = operator.post("/batches/b001/cancel/", follow=True)
    assert response.redirect_chain == [("/batches/b001/", 302)]
    assert "not reached the provider" in response.content.decode()
    assert store.get_batch("b001") == pending and store.list_audit(action="batch.cancel") == []


@pytest.mark.parametrize("url", ["/batches/", "/batches/b001/"])
def test_anonymous_users_sign_in_and_outsiders_get_403(
    client: Client, outsider: Client, store: Store, url: str
) -> None:
    store.insert_batch(batch(1))
    assert outsider.get(url).status_code == 403
    assert outsider.post("/batches/b001/cancel/").status_code == 403
    outsider.logout()
    assert client.get(url)["Location"].startswith("/login/")


def test_the_api_pages_filters_by_entry_and_reads_one_batch(
    signed_in: Client, store: Store
) -> None:
    for n in range(5):
        store.insert_batch(batch(n, entry="main" if n % 2 else "other"))
    page = signed_in.get("/api/batches", {"limit": 2}).json()
    assert [b["id"] for b in page["batches"]] == ["b004", "b003"]
    assert (page["total"], page["next_offset"]) == (5, 2)
    last = signed_in.get("/api/batches", {"limit": 2, "offset": 4}).json()
    assert [b["id"] for b in last["batches"]] == ["b000"] and last["next_offset"] is None
    main = signed_in.get("/api/batches", {"entry_key": "main"}).json()
    assert [b["id"] for b in main["batches"]] == ["b003", "b001"] and main["total"] == 2
    one = signed_in.get("/api/batches/b003").json()
    assert one["provider_batch_id"] == "msgbatch_3" and "requests" not in one
    assert signed_in.get("/api/batches", {"offset": -1}).status_code == 422
    assert signed_in.get("/api/batches", {"offset": 10**30}).status_code == 422
    assert signed_in.get("/batches/", {"page": 10**30}).status_code == 400
