from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from llmopt.errors import StoreError
from llmopt.quality import (
    CheckResult,
    LLMQualityMonitor,
    QualityScore,
    QualitySettings,
    QualityTracker,
    alert_body,
    answer_flags,
    combine,
    quality_tracker_for,
    window_start,
)
from llmopt.store import QualityRollup, SQLiteStore, Store
from llmopt.tokens import WebhookSender

# A quarter past the hour, so the hour-long window started at 12:00.
NOW = datetime(2026, 12, 6, 12, 15, tzinfo=UTC)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)
HOOK = "https://hooks.example.com/quality/T1/s3cr3t"
HOUR = 3600.0


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Hook:
    """Webhook POSTs answered by an httpx ``MockTransport``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        return httpx.Response(200)

    def sender(self) -> WebhookSender:
        return WebhookSender(transport=httpx.MockTransport(self), kind="quality")


class FlakyStore:
    """A real store whose ``add_quality`` fails while ``failing`` is set."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.failing = True

    def add_quality(self, rollups: Iterable[QualityRollup]) -> None:
        if self.failing:
            raise StoreError("the database is unavailable")
        self.inner.add_quality(rollups)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "quality.db")
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hook() -> Hook:
    return Hook()


@pytest.fixture
def trackers(store: SQLiteStore, clock: Clock) -> Iterator[Callable[..., QualityTracker]]:
    """Makes trackers that flush only when told to, and stops them all at the end."""
    made: list[QualityTracker] = []

    def make(**options: Any) -> QualityTracker:
        options.setdefault("clock", clock)
        options.setdefault("store", store)
        tracker = QualityTracker(options.pop("store"), interval=HOUR, **options)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.stop()


def score(value: float, *parts: CheckResult) -> QualityScore:
    return QualityScore(combined=value, parts=parts)


def good(value: float = 0.9) -> QualityScore:
    return score(value, CheckResult("relevance", value, "on topic"))


def stats(store: Store, **filters: Any) -> list[QualityRollup]:
    return store.quality_stats(start=EPOCH, end=FAR, **filters)


SETTINGS = QualitySettings.from_dict(
    {
        "enabled": True,
        "webhook": HOOK,
        "degradation": {"windowMinutes": 60, "baselineHours": 24, "drop": 0.1, "minSamples": 20},
    }
)


# Recording.


def test_recorded_scores_are_written_per_minute_entry_model_and_test_at_the_flush(
    trackers: Callable[..., QualityTracker], store: SQLiteStore, clock: Clock
) -> None:
    tracker = trackers()
    truncated = CheckResult("completeness", 0.0, "cut off", {"truncated": True})
    tracker.record("main", "gpt", score(0.9, CheckResult("relevance", 0.9, "ok")))
    tracker.record("main", "gpt", score(0.0, truncated, CheckResult("relevance", 0.5, "meh")))
    tracker.record("main", "gpt", good(), test="ab")
    tracker.record("main", "mini", good(0.6))
    assert stats(store) == []  # nothing is written before the flush

    tracker.flush()
    rows = {(row.model, row.test): row for row in stats(store, entry_key="main")}
    assert set(rows) == {("gpt", ""), ("gpt", "ab"), ("mini", "")}
    plain = rows["gpt", ""]
    assert plain.minute == NOW
    assert (plain.count, plain.score_sum) == (2, 0.9)
    assert plain.score_sq_sum == pytest.approx(0.81)
    assert plain.passed == 1  # at the default pass threshold, 0.7
    assert plain.check_counts == {"relevance": 2, "completeness": 1}
    assert plain.check_sums == {"relevance": pytest.approx(1.4), "completeness": 0.0}
    assert plain.flags == {"truncated": 1}
    assert rows["mini", ""].passed == 0


def test_later_minutes_get_their_own_rows_and_flushes_add_up(
    trackers: Callable[..., QualityTracker], store: SQLiteStore, clock: Clock
) -> None:
    tracker = trackers()
    tracker.record("main", "gpt", good())
    tracker.flush()
    tracker.record("main", "gpt", good())
    clock.now += timedelta(seconds=90)
    tracker.record("main", "gpt", good(), pass_threshold=0.95)
    tracker.flush()
    rows = stats(store, entry_key="main")
    assert [(row.minute, row.count, row.passed) for row in rows] == [
        (NOW, 2, 2),
        (NOW + timedelta(minutes=1), 1, 0),
    ]


def test_a_fatal_part_is_counted() -> None:
    refusal = CheckResult("safety", 0.0, "refused", {"flags": ["provider_refusal"]}, fatal=True)
    scored = combine([refusal, CheckResult("relevance", 1.0, "ok")])
    assert scored.combined == 0.0
    assert answer_flags(scored) == ["provider_refusal"]


@pytest.mark.parametrize(
    ("part", "flags"),
    [
        (CheckResult("completeness", 0.4, "cut", {"truncated": True}), ["truncated"]),
        (CheckResult("completeness", 0.5, "skipped question 2"), ["incomplete"]),
        (CheckResult("completeness", 1.0, "complete"), []),
        (CheckResult("code", 0.0, "syntax error"), ["invalid_code"]),
        (CheckResult("support", 0.3, "claims not in context"), ["unsupported"]),
        (CheckResult("support", 0.6, "mostly backed"), []),
        (CheckResult("relevance", 0.1, "off topic"), []),
        (
            CheckResult("safety", 0.0, "leak", {"flags": ["secret:aws", "ai_disclaimer"]}),
            ["ai_disclaimer", "leaked_secret"],
        ),
    ],
)
def test_answer_flags_name_what_went_wrong(part: CheckResult, flags: list[str]) -> None:
    assert answer_flags(score(part.score, part)) == flags


def test_flags_of_recorded_answers_are_counted_in_the_store(
    trackers: Callable[..., QualityTracker], store: SQLiteStore
) -> None:
    tracker = trackers()
    bad_code = CheckResult("code", 0.0, "syntax error")
    leak = CheckResult("safety", 0.0, "leak", {"flags": ["secret:openai"]}, fatal=True)
    tracker.record("main", "gpt", score(0.0, bad_code))
    tracker.record("main", "gpt", score(0.0, bad_code, leak))
    tracker.flush()
    [row] = stats(store)
    assert row.flags == {"invalid_code": 2, "leaked_secret": 1}
    assert row.fatal == 1


# Observing (scored in the background by the cheap checks).

ASK = ["What is the capital of France?"]
ANSWER = "The capital of France is Paris."


def test_nothing_is_queued_while_monitoring_is_off(
    trackers: Callable[..., QualityTracker], store: SQLiteStore
) -> None:
    tracker = trackers()
    assert not tracker.observe("main", "gpt", ASK, ANSWER, settings=QualitySettings())
    assert tracker.drain()
    tracker.flush()
    assert stats(store) == []


def test_observed_answers_are_scored_and_recorded_after_drain(
    trackers: Callable[..., QualityTracker], store: SQLiteStore
) -> None:
    tracker = trackers()
    settings = QualitySettings.from_dict({"enabled": True, "passThreshold": 0.0})
    assert tracker.observe("main", "gpt", ASK, ANSWER, settings=settings)
    assert tracker.observe("main", "gpt", ASK, "I cannot help with that.", settings=settings)
    assert tracker.drain()
    tracker.flush()
    [row] = stats(store, entry_key="main")
    assert row.count == 2 and row.passed == 2  # the observed settings' pass threshold
    assert row.check_counts.get("relevance") == 2


def test_answers_are_sampled_by_the_sample_rate(
    trackers: Callable[..., QualityTracker], store: SQLiteStore
) -> None:
    draws = iter([0.2, 0.7, 0.49, 0.5])
    tracker = trackers(draw=lambda: next(draws))
    settings = QualitySettings.from_dict({"enabled": True, "sampleRate": 0.5})
    queued = [tracker.observe("main", "gpt", ASK, ANSWER, settings=settings) for _ in range(4)]
    assert queued == [True, False, True, False]
    assert tracker.drain()
    tracker.flush()
    assert sum(row.count for row in stats(store)) == 2


def test_answers_of_an_ab_test_are_always_scored(
    trackers: Callable[..., QualityTracker], store: SQLiteStore
) -> None:
    tracker = trackers(draw=lambda: 0.999)
    settings = QualitySettings.from_dict({"enabled": True, "sampleRate": 0.01})
    assert not tracker.observe("main", "gpt", ASK, ANSWER, settings=settings)
    for _ in range(3):
        assert tracker.observe("main", "gpt", ASK, ANSWER, settings=settings, test="ab")
    assert tracker.drain()
    tracker.flush()
    assert [(row.test, row.count) for row in stats(store)] == [("ab", 3)]


def test_drain_without_anything_observed_returns_at_once(
    trackers: Callable[..., QualityTracker],
) -> None:
    assert trackers().drain(timeout=0.01)


# Degradation alerts.


def seed_baseline(tracker: QualityTracker, clock: Clock, *, count: int = 30) -> None:
    """Good answers three hours ago, written to the store."""
    clock.now = NOW - timedelta(hours=3)
    for _ in range(count):
        tracker.record("main", "gpt", good(0.9))
    tracker.flush()
    clock.now = NOW


def bad_window(tracker: QualityTracker, *, count: int = 25, value: float = 0.5) -> None:
    for _ in range(count):
        tracker.record("main", "gpt", good(value))
    assert tracker.write()


def test_a_degraded_entry_is_alerted_once_per_window(
    trackers: Callable[..., QualityTracker], store: SQLiteStore, clock: Clock, hook: Hook
) -> None:
    sender = hook.sender()
    tracker = trackers(webhook=sender)
    seed_baseline(tracker, clock)
    bad_window(tracker)

    verdict = tracker.degradation("main", settings=SETTINGS)
    assert verdict.degraded and verdict.window.count == 25 and verdict.baseline.count == 30
    alert = tracker.alert_on_degradation("main", settings=SETTINGS)
    assert alert is not None
    assert alert.entry_key == "main"
    assert alert.window_start == window_start(NOW, 60) == datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert alert.at == NOW
    assert alert.window_mean == pytest.approx(0.5)
    assert alert.baseline_mean == pytest.approx(0.9)
    assert (alert.window_count, alert.baseline_count, alert.drop) == (25, 30, 0.1)
    assert store.list_quality_alerts(entry_key="main") == [alert]

    clock.now = NOW + timedelta(minutes=30)  # still the same window
    assert tracker.alert_on_degradation("main", settings=SETTINGS) is None
    assert len(store.list_quality_alerts()) == 1

    assert sender.flush()
    [request] = hook.requests
    assert request.method == "POST" and str(request.url) == HOOK
    assert json.loads(request.content) == alert_body(alert)
    assert json.loads(request.content)["kind"] == "llmopt.quality.degraded"


def test_another_process_does_not_alert_the_same_window_again(
    trackers: Callable[..., QualityTracker], store: SQLiteStore, clock: Clock, hook: Hook
) -> None:
    first_sender, second_sender = hook.sender(), hook.sender()
    first = trackers(webhook=first_sender)
    second = trackers(webhook=second_sender)
    seed_baseline(first, clock)
    bad_window(first)

    assert first.alert_on_degradation("main", settings=SETTINGS) is not None
    assert second.degradation("main", settings=SETTINGS).degraded
    assert second.alert_on_degradation("main", settings=SETTINGS) is None
    assert first_sender.flush() and second_sender.flush()
    assert len(hook.requests) == 1
    assert len(store.list_quality_alerts()) == 1


def test_the_next_window_may_alert_again(
    trackers: Callable[..., QualityTracker], store: SQLiteStore, clock: Clock, hook: Hook
) -> None:
    tracker = trackers(webhook=hook.sender())
    seed_baseline(tracker, clock)
    bad_window(tracker)
    assert tracker.alert_on_degradation("main", settings=SETTINGS) is not None
    clock.now = NOW + timedelta(minutes=50)  # 13:05, the next hour's window
    bad_window(tracker)
    later = tracker.alert_on_degradation("main", settings=SETTINGS)
    assert later is not None and later.window_start == datetime(2026, 12, 6, 13, tzinfo=UTC)
    assert len(store.list_quality_alerts(entry_key="main")) == 2


@pytest.mark.parametrize(("count", "value"), [(19, 0.1), (200, 0.85)])
def test_a_window_within_the_drop_or_with_too_few_answers_raises_no_alert(
    trackers: Callable[..., QualityTracker],
    store: SQLiteStore,
    clock: Clock,
    hook: Hook,
    count: int,
    value: float,
) -> None:
    sender = hook.sender()
    tracker = trackers(webhook=sender)
    seed_baseline(tracker, clock)
    bad_window(tracker, count=count, value=value)
    assert tracker.alert_on_degradation("main", settings=SETTINGS) is None
    assert store.list_quality_alerts() == []
    assert sender.flush()
    assert hook.requests == []


def test_without_a_webhook_the_alert_is_recorded_and_logged_only(
    trackers: Callable[..., QualityTracker],
    store: SQLiteStore,
    clock: Clock,
    hook: Hook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = hook.sender()
    tracker = trackers(webhook=sender)
    seed_baseline(tracker, clock)
    bad_window(tracker)
    settings = QualitySettings.from_dict({"enabled": True})
    with caplog.at_level(logging.WARNING, logger="llmopt.quality"):
        assert tracker.alert_on_degradation("main", settings=settings) is not None
    assert "quality degraded on main" in caplog.text
    assert sender.flush()
    assert hook.requests == []


def test_a_flush_judges_the_entries_it_wrote(
    trackers: Callable[..., QualityTracker], store: SQLiteStore, clock: Clock
) -> None:
    # The flush judges by the settings last observed; the defaults here (20 answers, 0.1).
    tracker = trackers()
    seed_baseline(tracker, clock)
    for _ in range(25):
        tracker.record("main", "gpt", good(0.4))
    tracker.flush()
    [alert] = store.list_quality_alerts(entry_key="main")
    assert alert.window_count == 25 and alert.window_start == window_start(NOW, 60)
    tracker.record("main", "gpt", good(0.4))
    clock.now += timedelta(minutes=5)
    tracker.flush()
    assert len(store.list_quality_alerts()) == 1


# A store that cannot be written.


def test_roll_ups_survive_a_failing_store_and_are_written_at_the_next_flush(
    store: SQLiteStore,
    clock: Clock,
    trackers: Callable[..., QualityTracker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = FlakyStore(store)
    tracker = trackers(store=cast(Store, flaky))
    for _ in range(3):
        tracker.record("main", "gpt", good())
    with caplog.at_level(logging.WARNING, logger="llmopt.quality"):
        tracker.flush()
        assert not tracker.write()
        tracker.record("main", "gpt", good(0.5))
        tracker.flush()
    assert stats(store) == []
    assert caplog.text.count("quality records not written") == 1  # once per outage

    flaky.failing = False
    tracker.flush()
    [row] = stats(store)
    assert (row.count, row.passed) == (4, 3)
    assert row.score_sum == pytest.approx(3.2)
    tracker.flush()
    assert stats(store)[0].count == 4  # written once, not again


# The design's names on LLMQualityMonitor.


def test_the_monitor_tracks_metrics_and_alerts_on_degradation_through_the_store(
    store: SQLiteStore,
) -> None:
    monitor = LLMQualityMonitor(embeddings="lexical", store=store)
    tracker = quality_tracker_for(store)
    try:
        now = datetime.now(UTC)
        baseline = [
            QualityRollup(
                minute=now - timedelta(hours=3),
                entry_key="main",
                model="gpt",
                count=30,
                score_sum=27.0,
                score_sq_sum=24.3,
                passed=30,
            )
        ]
        store.add_quality(baseline)
        scored = monitor.evaluate_response("What is 2 + 2?", "I am not sure what you mean.")
        # Fewer answers than the default rule needs, so the background flush never alerts.
        for _ in range(10):
            assert monitor.track_model_metrics("main", good(0.3), model="gpt")
        assert monitor.track_model_metrics("other", scored, model="gpt", test="ab")
        settings = QualitySettings.from_dict({"degradation": {"minSamples": 5}})
        assert monitor.alert_on_degradation("main", settings)
        assert not monitor.alert_on_degradation("main", settings)
        assert not monitor.alert_on_degradation("main")  # the default rule needs 20 answers

        window = store.quality_stats(start=now - timedelta(minutes=5), end=FAR)
        assert sum(row.count for row in window if row.entry_key == "main") == 10
        assert [row.test for row in window if row.entry_key == "other"] == ["ab"]
        [alert] = store.list_quality_alerts(entry_key="main")
        assert (alert.window_count, alert.baseline_count) == (10, 30)
    finally:
        tracker.stop()


def test_the_monitor_needs_a_store_to_track() -> None:
    monitor = LLMQualityMonitor(embeddings="lexical")
    with pytest.raises(ValueError, match="store="):
        monitor.track_model_metrics("main", good())
    with pytest.raises(ValueError, match="store="):
        monitor.alert_on_degradation("main")
