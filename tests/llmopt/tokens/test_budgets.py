from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from llmopt.errors import BudgetExceeded, ConfigError
from llmopt.store import SQLiteStore
from llmopt.tokens import BudgetGuard, BudgetSettings, WebhookSender

START = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingSender(WebhookSender):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, url: str, body: dict[str, Any]) -> None:
        self.sent.append((url, body))


def budget(**fields: Any) -> BudgetSettings:
    return BudgetSettings.from_dict({"name": "daily", "period": "day", **fields})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "llmopt.db")
    yield opened
    opened.close()


class Hook:
    """A webhook receiver on loopback: what it got, and how it answers."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.received = threading.Event()
        received, bodies, paths = self.received, self.bodies, self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                bodies.append(json.loads(self.rfile.read(length)))
                paths.append(self.path)
                self.send_response(status)
                self.end_headers()
                received.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


# Settings.


def test_budgets_read_camel_case_and_snake_case_alike() -> None:
    camel = BudgetSettings.from_dict(
        {
            "name": "b",
            "entry": "claude-main",
            "period": "month",
            "limitTokens": 200_000_000,
            "atLimit": "route_cheaper",
            "webhook": "https://hooks.example/llm",
        }
    )
    snake = BudgetSettings.from_dict(
        {
            "name": "b",
            "entry": "claude-main",
            "period": "month",
            "limit_tokens": 200_000_000,
            "at_limit": "route_cheaper",
            "webhook": "https://hooks.example/llm",
        }
    )
    assert camel == snake
    assert camel.thresholds == (50, 80, 100) and camel.limit_usd is None


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"period": "week", "limitUsd": 1}, "period", "'day' or 'month'"),
        ({"period": "day", "limitUsd": 0}, "limitUsd", "positive number"),
        ({"period": "day", "limitTokens": 1.5}, "limitTokens", "whole number"),
        ({"period": "day", "limitUsd": 1, "atLimit": "panic"}, "atLimit", "'refuse'"),
        ({"period": "day", "limitUsd": 1, "webhook": "ftp://x"}, "webhook", "http"),
        ({"period": "day", "limitUsd": 1, "thresholds": [0]}, "thresholds", "percentages"),
        ({"period": "day"}, "", "limitUsd or limitTokens"),
    ],
)
def test_an_invalid_budget_is_refused_with_a_sentence_about_its_field(
    fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        BudgetSettings.from_dict({"name": "b", **fields})
    assert words in " ".join(caught.value.by_field()[field])


def test_a_rejected_webhook_is_shown_without_its_query_string() -> None:
    with pytest.raises(ConfigError) as caught:
        budget(limitUsd=1, webhook="ftp://hooks.example/x?token=s3cret")
    assert "s3cret" not in str(caught.value)


def test_a_list_of_budgets_refuses_two_with_one_name() -> None:
    with pytest.raises(ConfigError) as caught:
        BudgetSettings.load_list(
            [
                {"name": "a", "period": "day", "limitUsd": 1},
                {"name": "a", "period": "month", "limitUsd": 9},
            ]
        )
    assert "another budget is named 'a'" in caught.value.by_field()["budgets[1].name"][0]


# Enforcement.


def test_a_refusing_budget_refuses_once_spent_and_says_when_it_resets(store: SQLiteStore) -> None:
    guard = BudgetGuard(store, [budget(limitUsd=1.0, atLimit="refuse")], clock=Clock())
    for _ in range(2):
        guard.settle(guard.admit("claude-main", usd=0.4, tokens=100), usd=0.6, tokens=120)
    with pytest.raises(BudgetExceeded) as caught:
        guard.admit("claude-main", usd=0.4, tokens=100)
    error = caught.value
    assert (error.budget, error.spent_usd, error.limit_usd) == ("daily", pytest.approx(1.2), 1.0)
    assert error.resets_at == datetime(2026, 12, 7, tzinfo=UTC)
    assert "2026-12-07T00:00:00+00:00" in str(error) and "$1.20 of $1.00" in str(error)


def test_a_refusal_releases_what_other_budgets_reserved(store: SQLiteStore) -> None:
    budgets = [
        budget(name="overall", limitUsd=100.0),
        budget(name="claude", entry="claude-main", limitTokens=1_000, atLimit="refuse"),
    ]
    guard = BudgetGuard(store, budgets, clock=Clock())
    guard.settle(guard.admit("claude-main", usd=1.0, tokens=1_000), usd=1.0, tokens=1_000)
    with pytest.raises(BudgetExceeded):
        guard.admit("claude-main", usd=5.0, tokens=10)
    spent = {status.name: status for status in guard.spend()}
    assert spent["overall"].usd == pytest.approx(1.0)
    assert spent["claude"].tokens == 1_000


def test_route_cheaper_and_alert_budgets_admit_at_their_limit_and_say_so(
    store: SQLiteStore,
) -> None:
    budgets = [
        budget(name="claude", entry="claude-main", limitUsd=1.0, atLimit="route_cheaper"),
        budget(name="overall", limitUsd=1.0),
    ]
    guard = BudgetGuard(store, budgets, clock=Clock(), webhook=RecordingSender())
    first = guard.admit("claude-main", usd=1.0, tokens=10)
    assert first.route_cheaper == ()
    guard.settle(first, usd=1.0, tokens=10)
    second = guard.admit("claude-main", usd=0.5, tokens=10)
    assert second.route_cheaper == ("claude",)
    assert second.alerting == ("overall",)
    assert guard.admit("gpt-mini", usd=0.1, tokens=1).route_cheaper == ()


def test_an_entrys_budget_does_not_count_other_entries(store: SQLiteStore) -> None:
    guard = BudgetGuard(store, [budget(entry="claude-main", limitUsd=1.0)], clock=Clock())
    assert guard.admit("gpt-mini", usd=5.0, tokens=10).reservations == ()


def test_many_threads_overshoot_a_limit_by_at_most_the_calls_in_flight(
    store: SQLiteStore,
) -> None:
    guard = BudgetGuard(store, [budget(limitUsd=1.0, atLimit="refuse")], clock=Clock())
    admitted: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(16)

    def caller(number: int) -> None:
        start.wait()
        for _ in range(10):
            try:
                admission = guard.admit("claude-main", usd=0.05, tokens=10)
            except BudgetExceeded:
                refused.append(number)
                continue
            admitted.append(number)
            guard.settle(admission, usd=0.05, tokens=10)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    (status,) = guard.spend()
    assert refused, "the limit was never reached"
    # Each call is admitted only while the stored total is under the limit, so the total
    # passes it by at most the one reservation admitted just under it.
    assert 1.0 <= status.usd <= 1.0 + 0.05 + 1e-9
    assert len(admitted) == round(status.usd / 0.05)


def test_a_released_call_gives_its_reservation_back(store: SQLiteStore) -> None:
    guard = BudgetGuard(store, [budget(limitTokens=1_000)], clock=Clock())
    guard.release(guard.admit("claude-main", usd=0.2, tokens=900))
    (status,) = guard.spend()
    assert (status.usd, status.tokens) == (0.0, 0)


def test_a_new_period_starts_from_nothing(store: SQLiteStore) -> None:
    clock = Clock()
    guard = BudgetGuard(store, [budget(limitUsd=1.0, atLimit="refuse")], clock=clock)
    guard.settle(guard.admit("claude-main", usd=1.0, tokens=1), usd=1.0, tokens=1)
    with pytest.raises(BudgetExceeded):
        guard.admit("claude-main", usd=0.1, tokens=1)
    clock.now = datetime(2026, 12, 7, 0, 0, 1, tzinfo=UTC)
    guard.admit("claude-main", usd=0.1, tokens=1)
    (status,) = guard.spend()
    assert status.period_start == datetime(2026, 12, 7, tzinfo=UTC)
    assert status.usd == pytest.approx(0.1)


def test_a_monthly_budget_resets_on_the_first_of_the_next_month(store: SQLiteStore) -> None:
    clock = Clock(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    guard = BudgetGuard(store, [budget(period="month", limitUsd=2.0)], clock=clock)
    (status,) = guard.spend()
    assert status.period_start == datetime(2026, 12, 1, tzinfo=UTC)
    assert status.resets_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_spend_shows_each_budgets_share_of_its_limit(store: SQLiteStore) -> None:
    guard = BudgetGuard(
        store, [budget(limitUsd=10.0, limitTokens=1_000)], clock=Clock(), webhook=RecordingSender()
    )
    guard.settle(guard.admit("claude-main", usd=1.0, tokens=10), usd=2.5, tokens=600)
    (status,) = guard.spend()
    assert status.percent == pytest.approx(60.0)  # the tokens' share is the larger


# Alerts.


def test_crossing_thresholds_records_each_alert_once(store: SQLiteStore) -> None:
    sender = RecordingSender()
    guard = BudgetGuard(
        store,
        [budget(limitUsd=10.0, webhook="https://hooks.example/llm")],
        clock=Clock(),
        webhook=sender,
    )
    for _ in range(3):
        guard.settle(guard.admit("claude-main", usd=3.0, tokens=1), usd=3.0, tokens=1)
    assert [a.threshold for a in store.list_budget_alerts(budget="daily")] == [80, 50]
    assert [body["threshold"] for _, body in sender.sent] == [50, 80]
    guard.settle(guard.admit("claude-main", usd=3.0, tokens=1), usd=3.0, tokens=1)
    assert [body["threshold"] for _, body in sender.sent] == [50, 80, 100]


def test_two_processes_on_one_store_alert_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    settings = [budget(limitUsd=10.0, webhook="https://hooks.example/llm")]
    senders = [RecordingSender(), RecordingSender()]
    first, second = SQLiteStore(path), SQLiteStore(path)
    try:
        guards = [
            BudgetGuard(store, settings, clock=Clock(), webhook=sender)
            for store, sender in zip((first, second), senders, strict=True)
        ]
        guards[0].settle(guards[0].admit("a", usd=3.0, tokens=1), usd=3.0, tokens=1)
        guards[1].settle(guards[1].admit("a", usd=3.0, tokens=1), usd=3.0, tokens=1)
        guards[0].settle(guards[0].admit("a", usd=0.1, tokens=1), usd=0.1, tokens=1)
        alerts = first.list_budget_alerts()
    finally:
        first.close()
        second.close()
    assert [a.threshold for a in alerts] == [50]
    assert sum(len(sender.sent) for sender in senders) == 1
    assert senders[1].sent[0][1]["threshold"] == 50


def test_an_alert_reaches_a_real_webhook(store: SQLiteStore, hook: Hook) -> None:
    guard = BudgetGuard(store, [budget(limitUsd=1.0, webhook=hook.url)], clock=Clock())
    try:
        guard.settle(guard.admit("claude-main", usd=0.5, tokens=1), usd=0.6, tokens=1)
        assert hook.received.wait(10)
    finally:
        guard.close()
    (body,) = hook.bodies
    assert body["budget"] == "daily" and body["threshold"] == 50
    assert body["usd"] == pytest.approx(0.6) and body["limitUsd"] == 1.0


def test_a_failing_webhook_is_retried_once_and_logged_without_its_secrets(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Hook(status=503)
    secret_url = failing.url.replace("127.0.0.1", "user:pw@127.0.0.1") + "?token=s3cret"
    sender = WebhookSender(timeout=5)
    guard = BudgetGuard(
        store, [budget(limitUsd=1.0, webhook=secret_url)], clock=Clock(), webhook=sender
    )
    try:
        with caplog.at_level(logging.DEBUG, logger="llmopt.tokens"):
            guard.settle(guard.admit("claude-main", usd=1.0, tokens=1), usd=1.0, tokens=1)
            assert sender.flush(10)
    finally:
        guard.close()
        failing.close()
    assert len(failing.bodies) == 2 * 3  # three thresholds crossed, each tried twice
    assert "failed: HTTP 503" in caplog.text
    assert "s3cret" not in caplog.text and "pw" not in caplog.text


def test_an_unreachable_webhook_never_fails_the_call(store: SQLiteStore) -> None:
    sender = WebhookSender(timeout=1)
    guard = BudgetGuard(
        store, [budget(limitUsd=1.0, webhook="http://127.0.0.1:9/x")], clock=Clock(), webhook=sender
    )
    guard.settle(guard.admit("claude-main", usd=1.0, tokens=1), usd=1.0, tokens=1)
    assert sender.flush(10)
    guard.close()
    assert len(store.list_budget_alerts()) == 3


def test_an_alert_is_stamped_with_the_clocks_time(store: SQLiteStore) -> None:
    clock = Clock()
    guard = BudgetGuard(store, [budget(limitUsd=1.0)], clock=clock, webhook=RecordingSender())
    clock.now += timedelta(hours=1)
    guard.settle(guard.admit("claude-main", usd=0.5, tokens=1), usd=0.5, tokens=1)
    (alert,) = store.list_budget_alerts()
    assert alert.at == START + timedelta(hours=1)
