from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.broker import embedded_transport_options
from console.celery import app as celery_app
from console.tasks import poll_batches, poll_entry_batches, prune_old_records, roll_up_usage
from llmopt.errors import StoreError
from llmopt.sandbox import FaultRule, SandboxServer
from llmopt.store import (
    AuditEvent,
    BatchRecord,
    BatchStatus,
    BudgetAlert,
    IncidentRecord,
    QualityAlert,
    QualityRollup,
    RouteStatsRollup,
    SQLiteStore,
    Store,
    StoredResult,
    UsageRollup,
)

from ..celery_support import ENTRY, seed_sandbox_entry, submit_batch

NOW = datetime.now(UTC)


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks enqueued by a task run at once, in this process, through Celery's apply."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def batch(id: str, entry_key: str, status: BatchStatus, **fields: Any) -> BatchRecord:
    return BatchRecord(
        id=id,
        provider="anthropic",
        model="claude-sonnet-4-6",
        entry_key=entry_key,
        status=status,
        created_at=fields.pop("created_at", NOW),
        **fields,
    )


def test_beat_polls_batches_at_the_poll_interval_and_prunes_hourly() -> None:
    schedule = celery_app.conf.beat_schedule
    assert {name: (entry["task"], entry["schedule"]) for name, entry in schedule.items()} == {
        "poll-batches": ("console.tasks.poll_batches", 15.0),
        "roll-up-usage": ("console.tasks.roll_up_usage", 60.0),
        "prune-old-records": ("console.tasks.prune_old_records", 3600.0),
    }
    assert celery_app.conf.beat_schedule_filename.endswith("celerybeat-schedule")


@pytest.mark.parametrize(
    "task", [poll_batches, poll_entry_batches, roll_up_usage, prune_old_records]
)
def test_every_task_has_time_limits_and_speaks_only_json(task: Any) -> None:
    assert 0 < task.soft_time_limit < task.time_limit
    assert celery_app.conf.accept_content == ["json"]
    assert celery_app.conf.task_serializer == "json"
    assert celery_app.conf.task_acks_late is True


def test_a_poll_collects_an_ended_batch_once_and_stores_its_answers(
    store: Store, sandbox: SandboxServer
) -> None:
    seed_sandbox_entry(store, sandbox)
    record = submit_batch(store, ["one", "two", "three"])

    acted = poll_entry_batches.apply(args=[ENTRY]).get()

    assert acted == [record.id]
    collected = store.get_batch(record.id)
    assert collected.status is BatchStatus.ENDED
    assert collected.request_counts["succeeded"] == 3
    for fingerprint in collected.requests.values():
        assert store.get_result(fingerprint, now=datetime.now(UTC)) is not None
    assert sandbox.batch_calls()["results"] == 1
    assert poll_entry_batches.apply(args=[ENTRY]).get() == []  # nothing left to do
    assert sandbox.batch_calls()["results"] == 1


def test_two_tasks_polling_the_same_ended_batch_at_once_collect_it_once(
    store: Store, sandbox: SandboxServer
) -> None:
    seed_sandbox_entry(store, sandbox)
    record = submit_batch(store, ["alpha", "beta"])
    start = threading.Barrier(2)
    acted: list[list[str]] = []

    def poll() -> None:
        start.wait()
        acted.append(poll_entry_batches.apply(args=[ENTRY]).get())

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(acted) == [[], [record.id]]  # one collected, the other left it alone
    assert store.get_batch(record.id).status is BatchStatus.ENDED
    assert sandbox.batch_calls()["results"] == 1
    billed = sandbox.billing().total
    assert billed.batch_requests_succeeded == billed.requests_succeeded == 2


def test_poll_batches_polls_each_entry_with_unfinished_batches_and_skips_the_rest(
    store: Store, sandbox: SandboxServer, eager: None, caplog: pytest.LogCaptureFixture
) -> None:
    seed_sandbox_entry(store, sandbox)
    record = submit_batch(store, ["hello"])
    store.insert_batch(batch("old", "retired", BatchStatus.ENDED, ended_at=NOW))
    store.insert_batch(batch("lost", "deleted-entry", BatchStatus.IN_PROGRESS))

    with caplog.at_level(logging.INFO, logger="console.tasks"):
        polled = poll_batches.apply().get()

    assert sorted(polled) == ["deleted-entry", ENTRY]
    assert store.get_batch(record.id).status is BatchStatus.ENDED
    assert "cannot poll batches of deleted-entry" in caplog.text
    assert sandbox.api_key not in caplog.text


def test_a_store_outage_is_retried_with_backoff(
    store: Store, monkeypatch: pytest.MonkeyPatch, eager: None
) -> None:
    store.insert_batch(batch("b1", "somewhere", BatchStatus.PENDING))
    real = store.list_batches
    failures = iter([StoreError("database is locked"), StoreError("database is locked")])

    def flaky(**kwargs: Any) -> list[BatchRecord]:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(**kwargs)

    monkeypatch.setattr(store, "list_batches", flaky)
    result = poll_batches.apply()
    assert result.get() == ["somewhere"]


def test_an_unrecoverable_store_outage_gives_up_after_the_retries(
    store: Store, monkeypatch: pytest.MonkeyPatch, eager: None
) -> None:
    calls: list[int] = []

    def down(**kwargs: Any) -> list[BatchRecord]:
        calls.append(1)
        raise StoreError("unable to open database file")

    monkeypatch.setattr(store, "list_batches", down)
    with pytest.raises(StoreError):
        poll_batches.apply().get()
    assert len(calls) == 1 + 5


def old_audit(path: str, at: datetime) -> None:
    aged = SQLiteStore(path, clock=lambda: at)
    try:
        aged.record_audit(AuditEvent(actor="test", action="seed", target=at.isoformat()))
    finally:
        aged.close()


@pytest.fixture
def aged_records(store: Store, settings: Any, tmp_path: Path) -> Path:
    """Two of each kind of record, one past the default retention and one within it,
    plus a batch still in flight since long ago. Returns the broker's processed folder."""
    for days in (400, 10):
        old_audit(settings.LLMOPT_SQLITE_PATH, NOW - timedelta(days=days))
    store.add_usage(
        UsageRollup(minute=NOW - timedelta(days=d), entry_key=ENTRY, calls=1) for d in (500, 40, 1)
    )
    store.fold_usage(through=NOW - timedelta(hours=2))  # as roll_up_usage keeps it
    store.insert_batch(
        batch("ended-long-ago", ENTRY, BatchStatus.ENDED, ended_at=NOW - timedelta(days=31))
    )
    store.insert_batch(
        batch("ended-lately", ENTRY, BatchStatus.ENDED, ended_at=NOW - timedelta(days=1))
    )
    store.insert_batch(
        batch("still-running", ENTRY, BatchStatus.IN_PROGRESS, created_at=NOW - timedelta(days=90))
    )
    store.add_incidents(
        IncidentRecord(at=NOW - timedelta(days=d), entry_key=ENTRY, kind="failover")
        for d in (400, 10)
    )
    store.add_route_stats(
        RouteStatsRollup(minute=NOW - timedelta(days=d), entry_key=ENTRY, calls=1) for d in (40, 1)
    )
    store.add_quality(
        QualityRollup(minute=NOW - timedelta(days=d), entry_key=ENTRY, model="m", count=1)
        for d in (40, 1)
    )
    for days in (420, 5):
        start = NOW - timedelta(days=days)
        store.charge_budget("daily", start, usd=1.0, tokens=10)
        store.add_budget_alert(
            BudgetAlert(
                budget="daily", period_start=start, threshold=50, at=start, usd=1, tokens=10
            )
        )
        store.add_quality_alert(
            QualityAlert(
                entry_key=ENTRY,
                window_start=start,
                at=start,
                window_mean=0.5,
                baseline_mean=0.9,
                window_count=20,
                baseline_count=200,
                drop=0.2,
            )
        )
    for name, expires in (
        ("expired", NOW - timedelta(seconds=1)),
        ("live", NOW + timedelta(days=1)),
    ):
        store.put_result(
            StoredResult(fingerprint=name, result={}, created_at=NOW, expires_at=expires)
        )
    options = embedded_transport_options(tmp_path)
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    processed = Path(options["processed_folder"])
    for name, age in (("1_a.celery.msg", 2 * 86400), ("2_b.celery.msg", 60)):
        (processed / name).write_text("{}")
        then = time.time() - age
        os.utime(processed / name, (then, then))
    return processed


def test_pruning_removes_what_is_past_retention_and_keeps_the_rest(
    store: Store, aged_records: Path
) -> None:
    removed = prune_old_records.apply().get()

    assert removed == {
        "usage": 2,
        "usage_hours": 1,
        "audit": 1,
        "batches": 1,
        "results": 1,
        "incidents": 1,
        "route_stats": 1,
        "budget_spend": 1,
        "budget_alerts": 1,
        "quality": 1,
        "quality_alerts": 1,
        "broker_messages": 1,
    }
    assert {r.id for r in store.list_batches()} == {"ended-lately", "still-running"}
    assert len(store.usage(start=NOW - timedelta(days=60), end=NOW + timedelta(days=1))) == 1
    assert store.get_result("live", now=NOW) is not None
    assert [p.name for p in aged_records.iterdir()] == ["2_b.celery.msg"]


def test_pruning_honours_longer_retention_settings(
    store: Store, aged_records: Path, settings: Any
) -> None:
    settings.LLMOPT_RETENTION_AUDIT_DAYS = 500
    settings.LLMOPT_RETENTION_USAGE_DAYS = 600
    settings.LLMOPT_RETENTION_HOURLY_USAGE_DAYS = 1000
    settings.LLMOPT_RETENTION_BATCH_DAYS = 90

    removed = prune_old_records.apply().get()

    assert removed == {
        "usage": 0,
        "usage_hours": 0,
        "audit": 0,
        "batches": 0,
        "results": 1,
        "incidents": 0,
        "route_stats": 0,
        "budget_spend": 0,
        "budget_alerts": 0,
        "quality": 0,
        "quality_alerts": 0,
        "broker_messages": 1,
    }


def test_a_pass_cut_short_by_its_time_bound_leaves_the_batch_to_the_next_one(
    store: Store,
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed_sandbox_entry(store, sandbox)
    record = submit_batch(store, ["slow"])
    # The provider hangs past the bound on every Message Batches call.
    sandbox.add_fault(FaultRule.delay(2_000, paths=("/v1/messages/batches/{id}",)))

    with caplog.at_level(logging.WARNING, logger="console.tasks"):
        assert poll_entry_batches.apply(args=[ENTRY], kwargs={"pass_seconds": 0.2}).get() == []

    assert "polling batches of main stopped after 0.2 s" in caplog.text
    assert store.get_batch(record.id).status is BatchStatus.IN_PROGRESS


def test_roll_up_folds_ended_hours_once_and_leaves_the_current_hour_to_the_minutes(
    store: Store,
) -> None:
    now = datetime.now(UTC)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    earlier = this_hour - timedelta(hours=3)
    store.add_usage(
        UsageRollup(minute=earlier + timedelta(minutes=m), entry_key=ENTRY, calls=2, cost_usd=0.5)
        for m in range(0, 60, 10)
    )
    store.add_usage([UsageRollup(minute=now, entry_key=ENTRY, calls=7)])

    written = roll_up_usage.apply().get()
    again = roll_up_usage.apply().get()

    assert written >= 1 and again == 0
    hours = store.usage_by_hour(start=earlier, end=this_hour + timedelta(hours=1))
    by_hour = {row.minute: (row.calls, row.cost_usd) for row in hours}
    assert by_hour[earlier] == (12, 3.0)
    assert by_hour[this_hour][0] == 7  # still read from the unfolded minute rows
    # Folded minutes may now be pruned without changing what the statistics show.
    store.prune(usage_before=now + timedelta(minutes=1))
    after = store.usage_by_hour(start=earlier, end=this_hour + timedelta(hours=1))
    assert {row.minute: row.calls for row in after}[earlier] == 12
