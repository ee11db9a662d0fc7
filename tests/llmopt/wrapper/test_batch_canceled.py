"""An operator cancels the Message Batch a wrapper's calls wait for: the calls it stopped
fail with BatchCanceled, nothing is sent again, nothing more is billed."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from llmopt import BatchCanceled
from llmopt.batching import AnthropicBatchClient
from llmopt.sandbox import BatchOptions, ManualClock, SandboxServer, running_sandbox
from llmopt.store import BatchRecord, SQLiteStore
from llmopt.wrapper import FlagWatcher, OptimizedLLMWrapper

from ...waiting import wait_until
from .conftest import MODEL, chat, seeded

# Every call is pooled; six make a batch (abatch sends its six at once anyway).
BATCHING = {
    "optimizationEnabled": True,
    "batchingEnabled": True,
    "optimizationStrategy": "batch_only",
    "batchMaxSize": 6,
    "batchTimeout": 1,
}
FAST_POLLING = {"poll_initial": 0.01, "poll_max": 0.05}
# Two requests a minute on a clock only the test moves.
WAVES = BatchOptions(item_seconds=60, parallelism=2)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[SandboxServer]:
    with running_sandbox(clock=clock, batches=WAVES) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    # Left open: the wrappers' usage recorder for this store flushes in the background.
    entry = {"provider": "anthropic", "configuration": {"model": MODEL, **BATCHING}}
    return seeded(SQLiteStore(tmp_path / "store.db"), entry)


def wrapper(sandbox: SandboxServer, store: SQLiteStore) -> OptimizedLLMWrapper:
    """A wrapper following ``store``'s flags, as get_generator_model builds one."""
    watcher = FlagWatcher(store)
    watcher.refresh()
    return OptimizedLLMWrapper(
        chat(sandbox),
        "anthropic",
        BATCHING,
        store=store,
        watcher=watcher,
        batch_options=FAST_POLLING,
    )


def prompts(count: int) -> list[list[BaseMessage]]:
    return [[HumanMessage(f"question {n}")] for n in range(count)]


def cancel_once_running(
    sandbox: SandboxServer, store: SQLiteStore, clock: ManualClock
) -> BatchRecord:
    """Wait for the batch, let one wave finish, and cancel it as an operator elsewhere
    does (another client on the same store); then let the batch end."""
    wait_until(
        lambda: any(r.provider_batch_id for r in store.list_batches()),
        what="the batch to be created",
    )
    [record] = store.list_batches()
    clock.advance(61)
    sdk = anthropic.AsyncAnthropic(
        base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0
    )
    operator = AnthropicBatchClient(sdk, store, entry_key=record.entry_key, model=MODEL)
    try:
        operator.cancel_sync(record.id, by="alice", reason="wrong prompts")
    finally:
        operator.close()
    clock.advance(600)
    return record


def test_abatch_gives_the_calls_an_operator_canceled_batch_canceled_and_bills_nothing_more(
    sandbox: SandboxServer, store: SQLiteStore, clock: ManualClock
) -> None:
    model = wrapper(sandbox, store)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answers = pool.submit(model.batch, prompts(6), return_exceptions=True)
            record = cancel_once_running(sandbox, store, clock)
            results = answers.result(timeout=30)
    finally:
        model.close()

    stopped = [r for r in results if isinstance(r, BatchCanceled)]
    answered = [r for r in results if isinstance(r, AIMessage)]
    assert (len(answered), len(stopped)) == (4, 2)  # the wave in flight still finished
    assert all(e.batch_id == record.id and e.canceled_by == "alice" for e in stopped)
    assert "wrong prompts" in str(stopped[0])
    billed = sandbox.billing().total
    assert (billed.batch_requests_succeeded, billed.requests_succeeded) == (4, 4)


async def test_a_pooled_call_an_operator_canceled_raises_batch_canceled(
    sandbox: SandboxServer, store: SQLiteStore, clock: ManualClock
) -> None:
    model = wrapper(sandbox, store)
    calls = [model.ainvoke(p) for p in prompts(6)]
    try:
        waiting = asyncio.gather(*calls, return_exceptions=True)
        await asyncio.to_thread(cancel_once_running, sandbox, store, clock)
        results = await waiting
    finally:
        model.close()

    assert sum(isinstance(r, BatchCanceled) for r in results) == 2
    assert sum(isinstance(r, AIMessage) for r in results) == 4
    assert sandbox.billing().total.requests_succeeded == 4
