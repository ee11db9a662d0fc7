from __future__ import annotations

import threading
from typing import Any

import pytest

from llmopt.errors import StoreError
from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.store import DocumentName, SQLiteStore
from llmopt.wrapper import FlagWatcher

from .conftest import seeded

ENTRY = {
    "provider": "anthropic",
    "configuration": {
        "model": "claude-sonnet-4-6",
        "optimizationEnabled": True,
        "cachingEnabled": True,
    },
}


@pytest.fixture
def store() -> SQLiteStore:
    acme = {"provider": "acme", "configuration": {"optimizationEnabled": True}}
    return seeded(SQLiteStore(":memory:"), ENTRY, acme)


def test_before_the_first_read_nothing_is_optimized(store: SQLiteStore) -> None:
    watcher = FlagWatcher(store)
    assert not watcher.snapshot.available


def test_a_refresh_reads_the_switch_and_every_entry(store: SQLiteStore) -> None:
    snapshot = FlagWatcher(store).refresh()
    assert snapshot.available and not snapshot.kill_switch_engaged
    config = snapshot.entries["anthropic:claude-sonnet-4-6"]
    assert config is not None and config.applies_caching
    assert snapshot.entries["acme:?"] is None


class FlakyStore(SQLiteStore):
    broken = False

    def read_document(self, name: DocumentName) -> Any:
        if self.broken:
            raise StoreError("connection refused")
        return super().read_document(name)


def test_an_unreadable_store_makes_the_snapshot_unavailable_until_it_recovers() -> None:
    store = seeded(FlakyStore(":memory:"), ENTRY)
    watcher = FlagWatcher(store)
    assert watcher.refresh().available
    store.broken = True
    snapshot = watcher.refresh()
    assert not snapshot.available and snapshot.problem is not None
    store.broken = False
    assert watcher.refresh().available


def test_the_background_thread_sees_a_rollback_within_its_interval(tmp_path: Any) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    release_kill_switch(store, actor="t")
    watcher = FlagWatcher(store, interval=0.05).start()
    try:
        assert watcher.wait_for(lambda s: s.available and not s.kill_switch_engaged, timeout=5)
        engage_kill_switch(store, actor="oncall")
        assert watcher.wait_for(lambda s: s.kill_switch_engaged, timeout=5)
    finally:
        watcher.stop()


class SlowFirstReadStore(SQLiteStore):
    """Once armed, the next kill switch read stalls until released: a background poll
    caught between reading the switch and publishing what it read."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.armed = False
        self.reading = threading.Event()
        self.release = threading.Event()

    def read_document(self, name: DocumentName) -> Any:
        found = super().read_document(name)
        if self.armed and name is DocumentName.KILL_SWITCH:
            self.armed = False
            self.reading.set()
            self.release.wait(10)
        return found


def test_a_read_begun_before_a_write_never_publishes_after_a_later_refresh(tmp_path: Any) -> None:
    store = seeded(SlowFirstReadStore(str(tmp_path / "s.db")), ENTRY)
    watcher = FlagWatcher(store)
    store.armed = True
    poll = threading.Thread(target=watcher.refresh)
    poll.start()
    assert store.reading.wait(10)  # the poll read the old document and stalls
    engage_kill_switch(store, actor="oncall", reason="costs spiking")
    mine = threading.Thread(target=watcher.refresh)
    mine.start()
    mine.join(0.5)  # unserialised it would publish now, before the stale poll does
    store.release.set()
    poll.join(10)
    mine.join(10)

    assert watcher.snapshot.kill_switch_engaged
