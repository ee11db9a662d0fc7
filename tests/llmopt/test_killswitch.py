from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from llmopt.errors import StoreError
from llmopt.killswitch import engage_kill_switch, read_kill_switch, release_kill_switch
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> SQLiteStore:
    return SQLiteStore(":memory:")


class UnreadableStore(SQLiteStore):
    def read_document(self, name: DocumentName):  # type: ignore[no-untyped-def]
        raise StoreError("disk on fire")


def test_a_missing_record_means_all_optimization_is_off(store: SQLiteStore) -> None:
    state = read_kill_switch(store)
    assert state.engaged
    assert state.problem is not None and "no kill switch record" in state.problem


def test_an_unreadable_store_means_all_optimization_is_off() -> None:
    state = read_kill_switch(UnreadableStore(":memory:"))
    assert state.engaged
    assert state.problem is not None and "disk on fire" in state.problem


@pytest.mark.parametrize("body", [{}, {"engaged": "no"}, {"engaged": 0}])
def test_a_malformed_record_means_all_optimization_is_off(store: SQLiteStore, body: dict) -> None:
    store.write_document(
        DocumentName.KILL_SWITCH,
        body,
        expected_revision=None,
        audit=AuditEvent(actor="t", action="t", target="t"),
    )
    assert read_kill_switch(store).engaged


def test_engaging_is_one_audited_write_with_who_when_and_why(store: SQLiteStore) -> None:
    release_kill_switch(store, actor="setup")
    state = engage_kill_switch(store, actor="oncall", reason="error spike", clock=lambda: NOON)
    assert (state.engaged, state.actor, state.reason, state.changed_at) == (
        True,
        "oncall",
        "error spike",
        NOON,
    )
    assert read_kill_switch(store) == state
    [record] = store.list_audit(action="killswitch.engage")
    assert (record.actor, record.reason, record.before["engaged"], record.after["engaged"]) == (
        "oncall",
        "error spike",
        False,
        True,
    )


def test_engaging_twice_writes_once(store: SQLiteStore) -> None:
    engage_kill_switch(store, actor="a")
    engage_kill_switch(store, actor="b")
    assert len(store.list_audit(action="killswitch.engage")) == 1
    assert read_kill_switch(store).actor == "a"


def test_engaging_and_releasing_never_touch_the_configuration(store: SQLiteStore) -> None:
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [{"provider": "anthropic", "configuration": {"cachingEnabled": True}}]},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    before = store.read_document(DocumentName.AI_CONFIG)
    engage_kill_switch(store, actor="a")
    release_kill_switch(store, actor="a")
    assert store.read_document(DocumentName.AI_CONFIG) == before
    assert not read_kill_switch(store).engaged


def test_a_malformed_record_can_still_be_overwritten(store: SQLiteStore) -> None:
    store.write_document(
        DocumentName.KILL_SWITCH,
        {"oops": 1},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="t", target="t"),
    )
    assert not release_kill_switch(store, actor="a").engaged
    assert engage_kill_switch(store, actor="a").engaged


def test_operators_pressing_at_once_all_get_the_state_they_asked_for(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SQLiteStore(tmp_path / "store.db")
    release_kill_switch(store, actor="setup")
    barrier = threading.Barrier(10)
    results = []

    def press(n: int) -> None:
        barrier.wait()
        results.append(engage_kill_switch(store, actor=f"op{n}").engaged)

    threads = [threading.Thread(target=press, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 10
    assert len(store.list_audit(action="killswitch.engage")) == 1
