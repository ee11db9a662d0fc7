"""Kill switch and live flags: a rollback reaches running wrappers without a restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.config import load_document, update_entry_flags
from llmopt.errors import StoreError
from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.sandbox import SandboxServer
from llmopt.store import DocumentName, SQLiteStore
from llmopt.wrapper import FlagWatcher, OptimizedLLMWrapper, UsageRecorder

from .conftest import CACHING, MODEL, SYSTEM, chat, seeded

KEY = f"anthropic:{MODEL}"
MESSAGES = [SystemMessage(SYSTEM), HumanMessage("question")]


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    entry = {"provider": "anthropic", "configuration": {"model": MODEL, **CACHING}}
    return seeded(SQLiteStore(tmp_path / "store.db"), entry)


def live_wrapper(
    sandbox: SandboxServer, store: SQLiteStore
) -> tuple[OptimizedLLMWrapper, FlagWatcher]:
    watcher = FlagWatcher(store, interval=0.05).start()
    recorder = UsageRecorder(store)
    model = OptimizedLLMWrapper(
        chat(sandbox), "anthropic", CACHING, store=store, watcher=watcher, recorder=recorder
    )
    assert watcher.wait_for(lambda s: s.available, timeout=5)
    return model, watcher


def optimized_calls(model: OptimizedLLMWrapper) -> int:
    return int(model.get_cache_stats()["optimized_calls"])


def test_a_rollback_reaches_a_running_wrapper_within_two_seconds(
    sandbox: SandboxServer, store: SQLiteStore
) -> None:
    model, watcher = live_wrapper(sandbox, store)
    try:
        model.invoke(MESSAGES)
        assert optimized_calls(model) == 1
        engaged_at = time.monotonic()
        engage_kill_switch(store, actor="oncall", reason="test")
        assert watcher.wait_for(lambda s: s.kill_switch_engaged, timeout=2)
        assert time.monotonic() - engaged_at < 2
        writes_before = sandbox.billing().total.cache_write_5m_tokens
        model.invoke([SystemMessage(SYSTEM + " changed"), HumanMessage("question")])
        assert optimized_calls(model) == 1
        assert sandbox.billing().total.cache_write_5m_tokens == writes_before
        release_kill_switch(store, actor="oncall")
        assert watcher.wait_for(lambda s: not s.kill_switch_engaged, timeout=2)
        model.invoke(MESSAGES)
        assert optimized_calls(model) == 2
    finally:
        watcher.stop()


def test_an_entry_switched_off_in_the_store_stops_being_optimized(
    sandbox: SandboxServer, store: SQLiteStore
) -> None:
    model, watcher = live_wrapper(sandbox, store)
    try:
        revision = load_document(store).revision or ""
        update_entry_flags(
            store, KEY, {"cachingEnabled": False}, expected_revision=revision, actor="admin"
        )
        assert watcher.wait_for(
            lambda s: (c := s.entries.get(KEY)) is not None and not c.caching_enabled, timeout=2
        )
        model.invoke(MESSAGES)
        assert optimized_calls(model) == 0
    finally:
        watcher.stop()


class BrokenStore(SQLiteStore):
    def read_document(self, name: DocumentName) -> Any:
        raise StoreError("unreachable")


def test_while_the_store_cannot_be_read_it_behaves_as_the_bare_model(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    store = BrokenStore(tmp_path / "broken.db")
    watcher = FlagWatcher(store)
    watcher.refresh()
    model = OptimizedLLMWrapper(
        chat(sandbox),
        "anthropic",
        CACHING,
        store=store,
        watcher=watcher,
        recorder=UsageRecorder(store),
    )
    assert model.invoke(MESSAGES).content
    assert optimized_calls(model) == 0
    assert sandbox.billing().total.cache_write_5m_tokens == 0


def test_calls_reach_the_store_as_usage_rollups(sandbox: SandboxServer, store: SQLiteStore) -> None:
    model, watcher = live_wrapper(sandbox, store)
    try:
        model.invoke(MESSAGES)
        model.invoke(MESSAGES)
        assert model.recorder is not None
        model.recorder.flush()
    finally:
        watcher.stop()
    now = datetime.now(UTC)
    rows = store.usage(start=now - timedelta(hours=1), end=now + timedelta(hours=1), entry_key=KEY)
    billed = sandbox.billing().total
    assert sum(r.calls for r in rows) == 2
    assert sum(r.cache_read_tokens for r in rows) == billed.cache_read_tokens
    assert sum(r.cache_write_tokens for r in rows) == billed.cache_write_5m_tokens
    assert sum(r.input_tokens for r in rows) == billed.input_tokens
    assert sum(r.cost_usd for r in rows) == pytest.approx(float(billed.cost_usd or 0))
    assert sum(r.baseline_cost_usd for r in rows) > sum(r.cost_usd for r in rows)


def test_after_a_rollback_the_rollups_count_calls_but_no_optimized_calls(
    sandbox: SandboxServer, store: SQLiteStore
) -> None:
    model, watcher = live_wrapper(sandbox, store)
    assert model.recorder is not None
    around = datetime.now(UTC)
    try:
        model.invoke(MESSAGES)
        model.recorder.flush()
        engage_kill_switch(store, actor="oncall", reason="test")
        assert watcher.wait_for(lambda s: s.kill_switch_engaged, timeout=2)
        model.invoke(MESSAGES)
        model.invoke(MESSAGES)
        model.recorder.flush()
    finally:
        watcher.stop()

    rows = store.usage(
        start=around - timedelta(hours=1), end=around + timedelta(hours=1), entry_key=KEY
    )
    assert (sum(r.calls for r in rows), sum(r.optimized_calls for r in rows)) == (3, 1)
