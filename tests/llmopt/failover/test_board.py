from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from llmopt.failover import ErrorClass
from llmopt.store import CircuitState, SQLiteStore

from .conftest import Clock, make_board

KEY = "claude-main"


def fail(board, times: int, error_class: ErrorClass = ErrorClass.OVERLOAD) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        board.record_failure(KEY, error_class, detail="529 overloaded")


def test_the_threshold_within_the_window_opens_the_circuit_at_once(
    store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")

    fail(board, 2)
    assert board.allow(KEY)
    fail(board, 1)

    assert not board.allow(KEY)  # before any store round trip
    board.refresh()
    stored = store.circuits()[KEY]
    assert stored.state is CircuitState.OPEN and stored.version == 1
    assert [i.kind for i in store.list_incidents(entry_key=KEY)] == ["circuit_opened"]


def test_failures_older_than_the_window_do_not_count(store: SQLiteStore, clock: Clock) -> None:
    board = make_board(store, clock, "a")

    fail(board, 2)
    clock.advance(61)
    fail(board, 2)

    assert board.allow(KEY)


def test_classes_that_do_not_count_never_open_a_circuit(store: SQLiteStore, clock: Clock) -> None:
    board = make_board(store, clock, "a")

    fail(board, 10, ErrorClass.INVALID_REQUEST)
    fail(board, 10, ErrorClass.CONTENT_REFUSAL)

    assert board.allow(KEY)


def test_after_the_cool_down_one_probe_closes_the_circuit(store: SQLiteStore, clock: Clock) -> None:
    board = make_board(store, clock, "a")
    fail(board, 3)
    board.refresh()

    clock.advance(29)
    assert not board.allow(KEY)
    clock.advance(1)
    assert not board.allow(KEY)  # wanted: the watcher claims the probe
    board.refresh()
    assert store.circuits()[KEY].state is CircuitState.HALF_OPEN
    assert board.allow(KEY)
    assert not board.allow(KEY)  # halfOpenMaxCalls = 1

    board.record_success(KEY)
    assert board.allow(KEY)
    board.refresh()
    assert store.circuits()[KEY].state is CircuitState.CLOSED
    assert [i.kind for i in store.list_incidents(entry_key=KEY)] == [
        "circuit_closed",
        "circuit_opened",
    ]


def test_a_probe_is_due_once_the_cool_down_is_over_until_ours_is_out(
    store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    assert not board.probe_due(KEY)  # never failed: closed
    fail(board, 3)
    board.refresh()
    clock.advance(29)
    assert not board.probe_due(KEY) and not board.would_allow(KEY)

    clock.advance(1)
    assert board.probe_due(KEY)  # a router must keep offering it, or no call asks
    assert not board.would_allow(KEY)
    board.allow(KEY)
    board.refresh()
    assert not board.probe_due(KEY)  # our probe is out: its answer decides


def test_a_circuit_opened_by_rate_limits_waits_for_the_providers_retry_after(
    store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    for _ in range(3):
        board.record_failure(KEY, ErrorClass.RATE_LIMIT, retry_after=2.0)
    board.refresh()

    stored = store.circuits()[KEY]
    assert stored.state is CircuitState.OPEN
    assert stored.retry_at == clock() + timedelta(seconds=2)  # not the 30 s cool-down
    assert "retry-after, 2 s" in stored.reason
    clock.advance(2)
    assert board.probe_due(KEY)


def test_a_retry_after_longer_than_the_cool_down_is_capped(
    store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    for _ in range(3):
        board.record_failure(KEY, ErrorClass.RATE_LIMIT, retry_after=3600.0)
    board.refresh()
    assert store.circuits()[KEY].retry_at == clock() + timedelta(seconds=30)


def test_a_failed_probe_reopens_the_circuit_with_a_new_cool_down(
    store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    fail(board, 3)
    board.refresh()
    clock.advance(30)
    board.allow(KEY)
    board.refresh()
    assert board.allow(KEY)

    fail(board, 1, ErrorClass.TIMEOUT)

    assert not board.allow(KEY)
    board.refresh()
    stored = store.circuits()[KEY]
    assert stored.state is CircuitState.OPEN
    assert stored.retry_at == clock() + timedelta(seconds=30)
    assert "probe call failed" in stored.reason


def test_when_one_process_opens_the_circuit_the_other_stops_within_a_refresh(
    store_path: Path, clock: Clock
) -> None:
    first_store, second_store = (
        SQLiteStore(store_path, clock=clock),
        SQLiteStore(store_path, clock=clock),
    )
    first = make_board(
        first_store,
        clock,
        "a",
    ).start()
    second = make_board(second_store, clock, "b")
    second.interval = 0.05
    second.start()
    try:
        assert second.allow(KEY)
        fail(first, 3)

        assert second.wait_for(lambda board: not board.allow(KEY), timeout=5)
        assert len(first_store.list_incidents(kinds=["circuit_opened"])) == 1
    finally:
        first.stop()
        second.stop()
        first_store.close()
        second_store.close()


def test_two_processes_opening_together_record_one_incident(store_path: Path, clock: Clock) -> None:
    stores = [SQLiteStore(store_path, clock=clock) for _ in range(2)]
    boards = [make_board(s, clock, name) for s, name in zip(stores, "ab", strict=True)]
    for board in boards:
        fail(board, 3)

    threads = [threading.Thread(target=board.refresh) for board in boards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for board in boards:
        board.refresh()

    assert [i.kind for i in stores[0].list_incidents()] == ["circuit_opened"]
    assert all(not board.allow(KEY) for board in boards)
    for s in stores:
        s.close()


def test_exactly_one_process_probes_a_half_open_circuit(store_path: Path, clock: Clock) -> None:
    stores = [SQLiteStore(store_path, clock=clock) for _ in range(3)]
    boards = [make_board(s, clock, name) for s, name in zip(stores, "abc", strict=True)]
    fail(boards[0], 3)
    for board in boards:
        board.refresh()
    clock.advance(31)

    assert not any(board.allow(KEY) for board in boards)  # each wants the probe
    threads = [threading.Thread(target=board.refresh) for board in boards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    allowed = [board.allow(KEY) for board in boards] + [board.allow(KEY) for board in boards]
    assert allowed.count(True) == 1
    owner = stores[0].circuits()[KEY].probe_owner
    assert owner in {"a", "b", "c"}
    for s in stores:
        s.close()


def test_a_probe_that_never_reports_is_taken_over_after_its_lease(
    store_path: Path, clock: Clock
) -> None:
    stores = [SQLiteStore(store_path, clock=clock) for _ in range(2)]
    a, b = (make_board(s, clock, name) for s, name in zip(stores, "ab", strict=True))
    fail(a, 3)
    a.refresh()
    clock.advance(30)
    a.allow(KEY)
    a.refresh()
    b.refresh()
    assert a.allow(KEY) and not b.allow(KEY)  # a's probe goes out and never reports

    clock.advance(30)
    assert not b.allow(KEY)
    b.refresh()

    assert b.allow(KEY)
    assert stores[0].circuits()[KEY].probe_owner == "b"
    for s in stores:
        s.close()


def test_a_forced_state_overrides_the_breaker_and_is_audited(
    store_path: Path, clock: Clock
) -> None:
    stores = [SQLiteStore(store_path, clock=clock) for _ in range(2)]
    a, b = (make_board(s, clock, name) for s, name in zip(stores, "ab", strict=True))

    a.force(KEY, "open", actor="alice", reason="provider incident")
    b.refresh()
    assert not a.allow(KEY) and not b.allow(KEY)
    clock.advance(3_600)
    assert not b.allow(KEY)  # no cool-down ends a forced state

    a.force(KEY, "closed", actor="alice", reason="we accept the errors")
    b.refresh()
    fail(b, 10)
    assert b.allow(KEY)

    a.force(KEY, None, actor="bob")
    b.refresh()
    assert b.allow(KEY) and b.status(KEY).forced is None
    fail(b, 3)
    assert not b.allow(KEY)

    audit = stores[0].list_audit(limit=10)
    assert [(e.actor, e.action, e.target) for e in reversed(audit)] == [
        ("alice", "circuit.force", f"circuit:{KEY}"),
        ("alice", "circuit.force", f"circuit:{KEY}"),
        ("bob", "circuit.release", f"circuit:{KEY}"),
    ]
    assert audit[-1].reason == "provider incident"
    assert len(stores[0].list_incidents(kinds=["circuit_forced"])) == 3
    for s in stores:
        s.close()


class BrokenStore:
    """A store every read and write of which fails."""

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        def fail(*args: object, **kwargs: object) -> object:
            raise OSError("disk unplugged")

        return fail


def test_without_a_store_the_board_decides_locally_and_logs_once(clock: Clock, caplog) -> None:  # type: ignore[no-untyped-def]
    board = make_board(BrokenStore(), clock, "a")

    fail(board, 3)
    board.refresh()
    board.refresh()
    assert not board.allow(KEY)
    assert board.store_problem is not None
    assert sum("circuit store unavailable" in r.message for r in caplog.records) == 1

    clock.advance(30)
    assert board.allow(KEY)  # a local probe
    assert not board.allow(KEY)
    board.record_success(KEY)
    assert board.allow(KEY)


def test_transitions_taken_while_the_store_was_down_are_written_when_it_is_back(
    store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(BrokenStore(), clock, "a")
    fail(board, 3)
    board.refresh()

    board.store = store
    assert board.flush()

    assert store.circuits()[KEY].state is CircuitState.OPEN
    assert [i.kind for i in store.list_incidents()] == ["circuit_opened"]
