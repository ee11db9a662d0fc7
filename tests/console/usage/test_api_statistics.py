"""GET /api/statistics: the page's numbers as JSON, from the hourly roll-ups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from llmopt.store import Store

from .conftest import NOW, OLLAMA, SONNET, seed_usage


def approx_json(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: approx_json(v) for k, v in body.items()}
    if isinstance(body, list):
        return [approx_json(v) for v in body]
    return pytest.approx(body) if isinstance(body, float) else body


def test_it_returns_the_totals_entries_and_hourly_series_put_in_the_store(
    signed_in: Client, store: Store
) -> None:
    seed_usage(store)

    response = signed_in.get("/api/statistics?range=24h")

    assert response.status_code == 200
    body = response.json()
    assert (body["range"], body["bucket"], body["entry_key"]) == ("24h", "hour", None)
    assert body["end"] == "2026-03-15T15:00:00Z"
    assert body["totals"]["calls"] == 15
    assert body["totals"]["optimized_calls"] == 9
    assert body["totals"]["standard_calls"] == 6
    assert body["totals"]["savings_usd"] == pytest.approx(0.03)
    entries = {e["entry_key"]: e for e in body["entries"]}
    assert set(entries) == {SONNET, OLLAMA}
    assert entries[OLLAMA]["unpriced_calls"] == 5
    assert entries[OLLAMA]["cache_hit_rate"] == 0.0
    assert len(body["series"]) == 24
    last = body["series"][-1]
    assert last["start"] == "2026-03-15T14:00:00Z"
    assert (last["calls"], last["cache_hit_rate"]) == (4, pytest.approx(0.8))
    assert body["series"][0]["cache_hit_rate"] is None  # no input at all that hour


def test_it_says_what_caching_wasted_as_the_page_does(signed_in: Client, store: Store) -> None:
    seed_usage(store)

    body = signed_in.get("/api/statistics?range=24h").json()

    waste = (
        "write_cost_usd",
        "unread_write_tokens",
        "unread_write_cost_usd",
        "unread_write_share",
        "missed_read_tokens",
        "missed_read_cost_usd",
    )
    assert {name: body["totals"][name] for name in waste} == {
        "write_cost_usd": pytest.approx(0.005),
        "unread_write_tokens": 400,
        "unread_write_cost_usd": pytest.approx(0.0015),
        "unread_write_share": pytest.approx(0.3),
        "missed_read_tokens": 1_300,
        "missed_read_cost_usd": pytest.approx(0.0036),
    }
    entries = {e["entry_key"]: e for e in body["entries"]}
    assert entries[OLLAMA]["unread_write_share"] is None  # nothing spent on writes
    assert entries[SONNET]["unread_write_share"] == pytest.approx(0.3)
    last = body["series"][-1]
    assert (last["unread_write_tokens"], last["missed_read_tokens"]) == (400, 1_000)


def test_the_30_day_range_is_a_daily_series_and_one_entry_can_be_asked_for(
    signed_in: Client, store: Store
) -> None:
    seed_usage(store)

    body = signed_in.get(f"/api/statistics?range=30d&entry_key={SONNET}").json()

    assert (body["bucket"], body["entry_key"], len(body["series"])) == ("day", SONNET, 30)
    assert [e["entry_key"] for e in body["entries"]] == [SONNET]
    assert body["totals"]["calls"] == 110
    assert datetime.fromisoformat(body["series"][-1]["start"]) == datetime(2026, 3, 15, tzinfo=UTC)


def test_folding_does_not_change_the_answer(signed_in: Client, store: Store) -> None:
    seed_usage(store)
    before = {r: signed_in.get(f"/api/statistics?range={r}").json() for r in ("24h", "7d", "30d")}

    store.fold_usage(through=NOW)

    for range_name, body in before.items():
        after = signed_in.get(f"/api/statistics?range={range_name}").json()
        assert after == approx_json(body)


@pytest.mark.parametrize("query", ["range=1y", "range=", "entry_key=", "range=24H"])
def test_bad_input_is_a_422_in_the_error_envelope(
    signed_in: Client, store: Store, query: str
) -> None:
    response = signed_in.get(f"/api/statistics?{query}")

    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] in ("range", "entry_key")


def test_anonymous_callers_get_401_and_outsiders_403(outsider: Client, store: Store) -> None:
    assert Client().get("/api/statistics").status_code == 401
    refused = outsider.get("/api/statistics")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "this needs the view_console permission"}
