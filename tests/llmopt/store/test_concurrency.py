"""Optimistic writes under contention: no lost update, exactly one audit record per write."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llmopt.errors import ConflictError
from llmopt.store import (
    AuditEvent,
    BatchRecord,
    DocumentName,
    PlanRecord,
    SQLiteStore,
    Store,
)

WRITERS = 50
PROCESSES = 4
INCREMENTS_PER_PROCESS = 25
BATCHES_PER_PROCESS = 50
PLANS_PER_PROCESS = 30


def _event(actor: str) -> AuditEvent:
    return AuditEvent(actor=actor, action="counter.increment", target="counter")


def increment_with_retry(store: Store, actor: str) -> int:
    """Read-modify-write the counter until no one else wrote in between; returns attempts."""
    attempts = 0
    while True:
        attempts += 1
        current = store.read_document(DocumentName.MIGRATION)
        assert current is not None
        body = {**current.body, "counter": current.body["counter"] + 1}
        try:
            store.write_document(
                DocumentName.MIGRATION,
                body,
                expected_revision=current.revision,
                audit=_event(actor),
            )
        except ConflictError:
            continue
        return attempts


def _create_counter(store: Store) -> str:
    created = store.write_document(
        DocumentName.MIGRATION,
        {"counter": 0, "other": ["kept"]},
        expected_revision=None,
        audit=AuditEvent(actor="setup", action="counter.create", target="counter"),
    )
    return created.revision


def _increments(store: Store) -> list[Any]:
    return store.list_audit(action="counter.increment", limit=10_000)


def test_of_50_writers_holding_the_same_revision_exactly_one_wins(store: Store) -> None:
    revision = _create_counter(store)
    barrier = threading.Barrier(WRITERS, timeout=30)

    def write(n: int) -> bool:
        current = store.read_document(DocumentName.MIGRATION)
        assert current is not None and current.revision == revision
        barrier.wait()
        try:
            store.write_document(
                DocumentName.MIGRATION,
                {"counter": n},
                expected_revision=revision,
                audit=_event(f"writer-{n}"),
            )
        except ConflictError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        outcomes = list(pool.map(write, range(WRITERS)))

    assert outcomes.count(True) == 1
    assert outcomes.count(False) == WRITERS - 1
    winner = outcomes.index(True)
    final = store.read_document(DocumentName.MIGRATION)
    assert final is not None and final.body == {"counter": winner}
    assert [r.actor for r in _increments(store)] == [f"writer-{winner}"]


def test_50_threads_retrying_on_conflict_lose_no_update(store: Store) -> None:
    _create_counter(store)
    barrier = threading.Barrier(WRITERS, timeout=30)

    def work(n: int) -> int:
        barrier.wait()
        return increment_with_retry(store, f"worker-{n}")

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(work, range(WRITERS)))

    final = store.read_document(DocumentName.MIGRATION)
    assert final is not None
    assert final.body == {"counter": WRITERS, "other": ["kept"]}
    assert len(_increments(store)) == WRITERS


def _process_worker(path: str, name: str, start: Any) -> None:
    store = SQLiteStore(path)
    try:
        start.wait()
        for _ in range(INCREMENTS_PER_PROCESS):
            increment_with_retry(store, name)
    finally:
        store.close()


def _in_processes(worker: Callable[[str, str, Any], None], path: str) -> list[int | None]:
    """Run ``worker(path, name, barrier)`` in PROCESSES spawned processes that start
    together; their exit codes."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES, timeout=60)
    processes = [
        context.Process(target=worker, args=(path, f"process-{n}", start)) for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    return [process.exitcode for process in processes]


def test_4_processes_retrying_on_conflict_on_one_sqlite_file_lose_no_update(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "shared.sqlite3")
    store = SQLiteStore(path)
    _create_counter(store)
    assert _in_processes(_process_worker, path) == [0] * PROCESSES
    final = store.read_document(DocumentName.MIGRATION)
    assert final is not None
    assert final.body["counter"] == PROCESSES * INCREMENTS_PER_PROCESS
    increments = _increments(store)
    assert len(increments) == PROCESSES * INCREMENTS_PER_PROCESS
    assert {r.actor for r in increments} == {f"process-{n}" for n in range(PROCESSES)}
    store.close()


def _batch_worker(path: str, name: str, start: Any) -> None:
    store = SQLiteStore(path)
    try:
        start.wait()
        for n in range(BATCHES_PER_PROCESS):
            record = BatchRecord(
                id=f"{name}-{n}",
                provider="anthropic",
                model="claude-sonnet-4-5",
                entry_key="anthropic:0",
                requests={"r": f"request-{n}"},
                created_at=datetime.now(UTC),
            )
            store.insert_batch_unless_held(record)
    finally:
        store.close()


def test_4_processes_recording_the_same_requests_on_one_sqlite_file_record_each_once(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "shared.sqlite3")
    store = SQLiteStore(path)
    assert _in_processes(_batch_worker, path) == [0] * PROCESSES
    recorded = [f for b in store.list_batches(limit=1_000) for f in b.requests.values()]
    assert sorted(recorded) == sorted(f"request-{n}" for n in range(BATCHES_PER_PROCESS))
    store.close()


def _plan_worker(path: str, name: str, start: Any) -> None:
    store = SQLiteStore(path)
    number = int(name.rsplit("-", 1)[1])
    try:
        start.wait()
        for n in range(PLANS_PER_PROCESS):
            # Process k's n-th plan is from second n * PROCESSES + k: the processes interleave.
            at = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(seconds=n * PROCESSES + number)
            store.add_plans([PlanRecord(entry_key="e1", at=at, decisions=(name,))], keep=20)
    finally:
        store.close()


def test_4_processes_recording_plans_on_one_sqlite_file_keep_the_newest_20_overall(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "shared.sqlite3")
    store = SQLiteStore(path)
    assert _in_processes(_plan_worker, path) == [0] * PROCESSES
    kept = store.recent_plans("e1", limit=1_000)
    last = PLANS_PER_PROCESS * PROCESSES - 1
    first = datetime(2025, 3, 1, tzinfo=UTC)
    assert [p.at for p in kept] == [first + timedelta(seconds=last - n) for n in range(20)]
    assert {p.decisions[0] for p in kept} == {f"process-{n}" for n in range(PROCESSES)}
    store.close()


RESERVATIONS_PER_PROCESS = 20
BUDGET_LIMIT_TOKENS = 30  # fewer than PROCESSES * RESERVATIONS_PER_PROCESS tries


def _reserve_worker(path: str, name: str, start: Any) -> None:
    store = SQLiteStore(path)
    month = datetime(2025, 3, 1, tzinfo=UTC)
    try:
        start.wait()
        for _ in range(RESERVATIONS_PER_PROCESS):
            store.reserve_budget(
                "team-a", month, usd=0.5, tokens=1, limit_usd=None, limit_tokens=BUDGET_LIMIT_TOKENS
            )
    finally:
        store.close()


def test_4_processes_reserving_from_one_budget_on_one_sqlite_file_admit_exactly_the_limit(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "shared.sqlite3")
    store = SQLiteStore(path)
    month = datetime(2025, 3, 1, tzinfo=UTC)
    assert _in_processes(_reserve_worker, path) == [0] * PROCESSES
    spend = store.budget_spend([("team-a", month)])[("team-a", month)]
    assert (spend.tokens, spend.usd) == (BUDGET_LIMIT_TOKENS, BUDGET_LIMIT_TOKENS * 0.5)
    store.close()
