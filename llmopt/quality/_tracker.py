"""Recording scores and watching them, off the call path: one tracker per store and process.

:meth:`QualityTracker.observe` queues an answer; a worker thread scores it with the
cheap checks (never a judge) and adds it to the per-minute roll-up of its entry, model
and A/B test. Every ``FLUSH_SECONDS`` the roll-ups are written to the store and each
entry scored since the last check is judged for degradation: its last window's mean
score against its baseline's. A degraded entry is recorded as a
:class:`~llmopt.store.QualityAlert` once per window, whichever process sees it first,
logged, and POSTed to the ``quality.webhook``. A store that cannot be written costs
only the records: the failure is logged once per outage.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from llmopt._secrets import masked_url
from llmopt.errors import LLMOptError
from llmopt.store import QualityAlert, QualityRollup, Store
from llmopt.store._per_store import PerStore
from llmopt.tokens import WebhookSender
from llmopt.wrapper._background import PeriodicTask

from ._metrics import Degradation, judge_degradation
from ._score import QualityScore
from ._settings import QualitySettings

logger = logging.getLogger("llmopt.quality")

FLUSH_SECONDS = 2.0
CHECK_SECONDS = 30.0
"""How often one process judges one entry for degradation, at most."""
QUEUE_LIMIT = 1_000
"""Answers waiting to be scored; beyond it new ones are dropped (and counted), so a
burst never holds memory or slows callers."""

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def window_start(now: datetime, minutes: int) -> datetime:
    """The start of the ``minutes``-long window ``now`` falls in, counted from the epoch,
    so every process names a window alike (an alert is recorded once per window)."""
    epoch_minutes = int(now.timestamp() // 60)
    start = epoch_minutes - epoch_minutes % minutes
    return datetime.fromtimestamp(start * 60, UTC)


class QualityTracker:
    """Scores, records and watches answers for ``store``; see the module docstring.

    ``clock`` and ``draw`` (the sampling draw, 0..1) are seams for tests; ``webhook`` is
    the sender of alerts (one in the background by default).
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float = FLUSH_SECONDS,
        clock: Clock = _utcnow,
        draw: Callable[[], float] = random.random,
        webhook: WebhookSender | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self._draw = draw
        self._webhook = webhook if webhook is not None else WebhookSender(kind="quality")
        self._lock = threading.Lock()
        self._rollups: dict[tuple[datetime, str, str, str], QualityRollup] = {}
        self._touched: set[str] = set()
        self._checked: dict[str, datetime] = {}
        self._settings = QualitySettings()
        self._monitors: dict[tuple[tuple[str, float], ...], Any] = {}
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(QUEUE_LIMIT)
        self._worker: threading.Thread | None = None
        self._failing = False
        self.dropped = 0
        """Answers not scored because the queue was full."""
        self._task = PeriodicTask(
            self.flush, interval=interval, name="llmopt-quality", run_first=False
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> QualityTracker:
        self._task.start()
        return self

    def stop(self) -> None:
        """Score what is queued, write it, send pending alerts and stop the threads. The
        tracker can be started again (``quality_tracker_for`` does on next use)."""
        self.drain()
        self._task.stop()
        self.flush()
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            self._queue.put(None)
            worker.join(10)
        self._webhook.flush()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued answer is scored; ``False`` on timeout."""
        done = threading.Event()
        with self._lock:
            running = self._worker is not None
        if not running:
            return True
        self._queue.put(("done", done))
        return done.wait(timeout)

    # -- recording ------------------------------------------------------------------------

    def observe(
        self,
        entry_key: str,
        model: str,
        request: Sequence[Any],
        answer: Any,
        *,
        settings: QualitySettings,
        test: str = "",
    ) -> bool:
        """Queue ``answer`` to ``request`` for scoring under ``entry_key``/``model``.

        Sampled by ``settings.sample_rate``, except answers of an A/B test (``test``),
        which are all scored: a test needs every answer it routed. Returns whether it
        was queued. Never blocks and never raises.
        """
        if not settings.enabled:
            return False
        if not test and settings.sample_rate < 1.0 and self._draw() >= settings.sample_rate:
            return False
        self._settings = settings
        self._ensure_worker()
        try:
            self._queue.put_nowait(("score", entry_key, model, list(request), answer, test))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def record(
        self,
        entry_key: str,
        model: str,
        score: QualityScore,
        *,
        test: str = "",
        pass_threshold: float | None = None,
        at: datetime | None = None,
    ) -> None:
        """Add one scored answer to its minute's roll-up (written at the next flush)."""
        threshold = self._settings.pass_threshold if pass_threshold is None else pass_threshold
        value = score.combined
        flags = dict.fromkeys(answer_flags(score), 1)
        rollup = QualityRollup(
            minute=at or self._clock(),
            entry_key=entry_key,
            model=model,
            test=test,
            count=1,
            score_sum=value,
            score_sq_sum=value * value,
            passed=int(value >= threshold),
            fatal=int(any(part.fatal for part in score.parts)),
            check_sums={part.name: part.score for part in score.parts},
            check_counts={part.name: 1 for part in score.parts},
            flags=flags,
            judge_cost_usd=float(score.judge_cost_usd or 0),
        )
        key = (rollup.minute, entry_key, model, test)
        with self._lock:
            earlier = self._rollups.get(key)
            self._rollups[key] = rollup if earlier is None else earlier + rollup
            self._touched.add(entry_key)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="llmopt-quality-scoring", daemon=True
                )
                self._worker.start()
        self._task.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if item[0] == "done":
                item[1].set()
                continue
            _, entry_key, model, request, answer, test = item
            try:
                score = self._monitor(self._settings).evaluate_response(request, answer)
            except Exception:
                logger.exception("quality: scoring an answer of %s failed", entry_key)
                continue
            self.record(entry_key, model, score, test=test)

    def _monitor(self, settings: QualitySettings) -> Any:
        from llmopt.quality._monitor import LLMQualityMonitor  # LangChain: only when scoring

        weights = tuple(sorted(settings.check_weights.items()))
        monitor = self._monitors.get(weights)
        if monitor is None:
            monitor = self._monitors[weights] = LLMQualityMonitor(weights=dict(weights))
        return monitor

    # -- writing and watching ----------------------------------------------------------

    def write(self) -> bool:
        """Write the roll-ups; ``False`` when the store could not be written (then they
        are kept for the next try)."""
        with self._lock:
            rollups, self._rollups = list(self._rollups.values()), {}
        try:
            if rollups:
                self.store.add_quality(rollups)
        except LLMOptError as exc:
            if not self._failing:
                logger.warning("quality records not written (store unavailable): %s", exc)
            self._failing = True
            with self._lock:
                for rollup in rollups:
                    key = (rollup.minute, rollup.entry_key, rollup.model, rollup.test)
                    earlier = self._rollups.get(key)
                    self._rollups[key] = rollup if earlier is None else earlier + rollup
            return False
        self._failing = False
        return True

    def flush(self) -> None:
        """Write the roll-ups, then judge the entries scored since their last check."""
        if not self.write():
            return
        with self._lock:
            touched, self._touched = self._touched, set()
        now = self._clock()
        for entry_key in sorted(touched):
            last = self._checked.get(entry_key)
            if last is not None and (now - last).total_seconds() < CHECK_SECONDS:
                with self._lock:
                    self._touched.add(entry_key)  # judged at a later flush
                continue
            self._checked[entry_key] = now
            try:
                self.alert_on_degradation(entry_key, now=now)
            except LLMOptError as exc:
                logger.warning("quality: could not judge %s for degradation: %s", entry_key, exc)

    def degradation(
        self,
        entry_key: str,
        *,
        settings: QualitySettings | None = None,
        now: datetime | None = None,
    ) -> Degradation:
        """How ``entry_key``'s last window compares with its baseline (from the store)."""
        rule = (settings or self._settings).degradation
        now = now or self._clock()
        start = now - timedelta(minutes=rule.window_minutes)
        baseline_start = start - timedelta(hours=rule.baseline_hours)
        rows = self.store.quality_stats(
            start=baseline_start, end=now + timedelta(minutes=1), entry_key=entry_key
        )
        window = [row for row in rows if row.minute >= start]
        baseline = [row for row in rows if row.minute < start]
        return judge_degradation(
            entry_key,
            window,
            baseline,
            rule,
            window_start=window_start(now, rule.window_minutes),
        )

    def alert_on_degradation(
        self,
        entry_key: str,
        *,
        settings: QualitySettings | None = None,
        now: datetime | None = None,
    ) -> QualityAlert | None:
        """Judge ``entry_key`` and, when degraded, record the alert once per window, log
        it and send it to the webhook. Returns the alert this call recorded, else
        ``None`` (not degraded, or recorded already by this or another process)."""
        chosen = settings or self._settings
        verdict = self.degradation(entry_key, settings=chosen, now=now)
        if not verdict.degraded:
            return None
        assert verdict.window.mean is not None and verdict.baseline.mean is not None
        alert = QualityAlert(
            entry_key=entry_key,
            window_start=verdict.window_start,
            at=now or self._clock(),
            window_mean=verdict.window.mean,
            baseline_mean=verdict.baseline.mean,
            window_count=verdict.window.count,
            baseline_count=verdict.baseline.count,
            drop=verdict.drop,
            detail=verdict.reason,
        )
        if not self.store.add_quality_alert(alert):
            return None
        logger.warning("quality degraded on %s: %s", entry_key, verdict.reason)
        if chosen.webhook:
            logger.info("quality alert for %s sent to %s", entry_key, masked_url(chosen.webhook))
            self._webhook.send(chosen.webhook, alert_body(alert))
        return alert


def answer_flags(score: QualityScore) -> list[str]:
    """What went wrong with a scored answer, in words a chart can count: ``truncated``,
    ``incomplete``, ``invalid_code``, ``unsupported``, ``provider_refusal``,
    ``refusal_phrase``, ``ai_disclaimer``, ``leaked_secret``."""
    flags: set[str] = set()
    for part in score.parts:
        if part.name == "safety":
            for flag in part.details.get("flags", ()):
                flags.add("leaked_secret" if str(flag).startswith("secret:") else str(flag))
        elif part.score >= 1.0:
            continue
        elif part.name == "completeness":
            flags.add("truncated" if part.details.get("truncated") else "incomplete")
        elif part.name == "code":
            flags.add("invalid_code")
        elif part.name == "support" and part.score < 0.5:
            flags.add("unsupported")
    return sorted(flags)


def alert_body(alert: QualityAlert) -> dict[str, Any]:
    """The JSON a webhook receives for ``alert``."""
    return {
        "kind": "llmopt.quality.degraded",
        "entry": alert.entry_key,
        "model": alert.model or None,
        "windowStart": alert.window_start.isoformat(),
        "at": alert.at.isoformat(),
        "windowMean": alert.window_mean,
        "baselineMean": alert.baseline_mean,
        "windowCount": alert.window_count,
        "baselineCount": alert.baseline_count,
        "drop": alert.drop,
        "detail": alert.detail,
    }


_trackers: PerStore[QualityTracker] = PerStore(QualityTracker)


def quality_tracker_for(store: Store) -> QualityTracker:
    """The process's running quality tracker for ``store``."""
    return _trackers(store).start()
