"""Batching through the wrapper: the same answers, from Message Batches, at half the price."""

from __future__ import annotations

import asyncio
import concurrent.futures
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from llmopt.batching import AnthropicBatchClient, BatchRequest
from llmopt.config import load_document, update_entry_flags
from llmopt.errors import ProviderError
from llmopt.killswitch import engage_kill_switch
from llmopt.sandbox import (
    BatchItemFault,
    BatchOptions,
    ManualClock,
    SandboxServer,
    running_sandbox,
)
from llmopt.store import SQLiteStore
from llmopt.wrapper import FlagWatcher, OptimizedLLMWrapper, UsageRecorder

from ...waiting import wait_until
from .conftest import MODEL, SYSTEM, chat, seeded

BATCHING = {"optimizationEnabled": True, "batchingEnabled": True, "batchTimeout": 1}
FAST_POLLING = {"poll_initial": 0.01, "poll_max": 0.05}


def batching(sandbox: SandboxServer, **flags: Any) -> OptimizedLLMWrapper:
    return OptimizedLLMWrapper(
        chat(sandbox), "anthropic", {**BATCHING, **flags}, batch_options=FAST_POLLING
    )


def prompts(count: int) -> list[list[BaseMessage]]:
    return [[SystemMessage("Be brief."), HumanMessage(f"question {n}")] for n in range(count)]


async def test_abatch_sends_one_message_batch_and_answers_in_input_order(
    sandbox: SandboxServer,
) -> None:
    inputs = prompts(12)
    expected = [m.content for m in chat(sandbox).batch(inputs)]
    sandbox.reset()
    model = batching(sandbox)
    try:
        answers = await model.abatch(inputs)
    finally:
        model.close()
    assert [a.content for a in answers] == expected
    billed = sandbox.billing().total
    assert (billed.batch_requests_succeeded, billed.requests_succeeded) == (12, 12)
    assert all(a.usage_metadata and a.usage_metadata["output_tokens"] > 0 for a in answers)


def test_batched_work_costs_half_and_the_wrappers_stats_say_so(sandbox: SandboxServer) -> None:
    inputs = prompts(6)
    chat(sandbox).batch(inputs)
    standard = sandbox.billing().total.cost_usd
    sandbox.reset()
    model = batching(sandbox)
    try:
        model.batch(inputs)
    finally:
        model.close()
    billed = sandbox.billing().total.cost_usd
    assert standard is not None and billed == standard / 2
    # The wrapper's own figures: what was billed, against the standard price.
    stats = model.get_cache_stats()
    assert stats["cost_usd"] == pytest.approx(float(billed))
    assert stats["baseline_cost_usd"] == pytest.approx(float(standard))
    assert stats["savings_usd"] == pytest.approx(float(standard - billed))


async def test_batch_only_pools_single_calls_from_many_coroutines(sandbox: SandboxServer) -> None:
    model = batching(sandbox, optimizationStrategy="batch_only", batchMaxSize=5, batchTimeout=60)
    try:
        answers = await asyncio.gather(*(model.ainvoke(p) for p in prompts(10)))
    finally:
        model.close()
    assert len(answers) == 10 and all(a.content for a in answers)
    assert sandbox.billing().total.batch_requests_succeeded == 10
    assert model.get_cache_stats()["calls"] == 10


async def test_a_partial_pool_is_submitted_after_the_batch_timeout(sandbox: SandboxServer) -> None:
    model = batching(sandbox, optimizationStrategy="batch_only", batchMaxSize=100, batchTimeout=1)
    try:
        started = asyncio.get_running_loop().time()
        answers = await asyncio.gather(*(model.ainvoke(p) for p in prompts(3)))
        waited = asyncio.get_running_loop().time() - started
    finally:
        model.close()
    assert len(answers) == 3 and sandbox.billing().total.batch_requests_succeeded == 3
    assert waited >= 1.0


async def test_under_auto_only_deferrable_calls_wait_for_a_batch(sandbox: SandboxServer) -> None:
    model = batching(sandbox)
    try:
        await model.ainvoke(prompts(1)[0])
        assert sandbox.billing().total.batch_requests_succeeded == 0
        await model.ainvoke(prompts(1)[0], deferrable=True)
        assert sandbox.billing().total.batch_requests_succeeded == 1
    finally:
        model.close()


async def test_an_invalid_request_fails_alone_and_the_others_are_answered(
    sandbox: SandboxServer,
) -> None:
    model = batching(sandbox)
    inputs = prompts(3)
    bad_marker = {"type": "ephemeral", "ttl": "2h"}  # the API offers no such lifetime
    inputs[1] = [HumanMessage([{"type": "text", "text": "q", "cache_control": bad_marker}])]
    try:
        answers = await model.abatch(inputs, return_exceptions=True)
    finally:
        model.close()
    assert isinstance(answers[1], ProviderError) and not answers[1].retryable
    assert isinstance(answers[0], BaseMessage) and isinstance(answers[2], BaseMessage)
    assert sandbox.billing().total.batch_requests_succeeded == 2


def test_the_batch_client_is_made_for_the_wrappers_entry_with_its_batch_options(
    sandbox: SandboxServer,
) -> None:
    made: list[dict[str, Any]] = []

    def factory(*args: Any, **options: Any) -> AnthropicBatchClient:
        made.append(options)
        return AnthropicBatchClient(*args, **options)

    model = OptimizedLLMWrapper(
        chat(sandbox),
        "anthropic",
        BATCHING,
        batch_options={"poll_max": 2.0},
        batch_client_factory=factory,
    )
    try:
        assert model.batch_client is not None
    finally:
        model.close()
    [options] = made
    assert options["poll_max"] == 2.0
    assert (options["entry_key"], options["model"]) == (f"anthropic:{MODEL}", MODEL)


def test_close_submits_what_is_pooled(sandbox: SandboxServer) -> None:
    model = batching(
        sandbox, optimizationStrategy="batch_only", batchMaxSize=100, batchTimeout=3600
    )
    dispatcher = model.batch_dispatcher
    request = BatchRequest(
        params={"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    )
    future = dispatcher.submit(request)
    model.close()
    outcome = future.result(timeout=30)
    assert outcome is not None and outcome.message is not None


def batching_store(tmp_path: Path, **flags: Any) -> tuple[SQLiteStore, FlagWatcher]:
    """A store whose one entry batches, kill switch released, and a watcher that read it."""
    entry = {"provider": "anthropic", "configuration": {"model": MODEL, **BATCHING, **flags}}
    store = seeded(SQLiteStore(tmp_path / "store.db"), entry)
    watcher = FlagWatcher(store)
    watcher.refresh()
    return store, watcher


def store_backed(
    sandbox: SandboxServer,
    store: SQLiteStore,
    watcher: FlagWatcher,
    *,
    recorder: UsageRecorder | None = None,
    **batch_options: Any,
) -> OptimizedLLMWrapper:
    """A batching wrapper following ``store``'s flags, as get_generator_model builds one."""
    return OptimizedLLMWrapper(
        chat(sandbox),
        "anthropic",
        BATCHING,
        store=store,
        watcher=watcher,
        recorder=recorder,
        batch_options={**FAST_POLLING, **batch_options},
    )


def test_close_with_a_timeout_leaves_a_running_batch_in_the_ledger(tmp_path: Path) -> None:
    slow = BatchOptions(item_seconds=60)  # on a clock nobody advances: it never ends
    with running_sandbox(clock=ManualClock(), batches=slow) as sandbox:
        store, watcher = batching_store(tmp_path)
        model = store_backed(sandbox, store, watcher, recorder=UsageRecorder(store))
        answers: concurrent.futures.Future[Any] = concurrent.futures.ThreadPoolExecutor(1).submit(
            model.batch, prompts(3)
        )

        def created() -> bool:
            if any(r.provider_batch_id for r in store.list_batches()):
                return True
            assert not answers.done(), answers.exception()
            return False

        wait_until(created, what="the batch to be created")
        with pytest.raises(TimeoutError):
            model.close(timeout=0.2)
        with pytest.raises(TimeoutError, match="resume"):
            answers.result(timeout=10)
        [record] = store.list_batches()
        assert record.status == "in_progress" and record.provider_batch_id is not None


def test_the_kill_switch_stops_new_batches(sandbox: SandboxServer, tmp_path: Path) -> None:
    store, watcher = batching_store(tmp_path)
    model = store_backed(sandbox, store, watcher, recorder=UsageRecorder(store))
    try:
        model.batch(prompts(2))
        assert sandbox.billing().total.batch_requests_succeeded == 2
        engage_kill_switch(store, actor="oncall")
        watcher.refresh()
        model.batch(prompts(2))
        billed = sandbox.billing().total
        assert (billed.batch_requests_succeeded, billed.requests_succeeded) == (2, 4)
    finally:
        model.close()
    assert [r.status for r in store.list_batches()] == ["ended"]


def test_batching_with_caching_plans_one_hour_breakpoints(sandbox: SandboxServer) -> None:
    model = batching(sandbox, cachingEnabled=True)
    inputs = [[SystemMessage(SYSTEM), HumanMessage(f"q{n}")] for n in range(4)]
    try:
        model.batch(inputs)
    finally:
        model.close()
    billed = sandbox.billing().total
    assert billed.cache_write_1h_tokens > 0 and billed.cache_write_5m_tokens == 0


def test_a_reused_answer_costs_nothing_and_its_plain_price_counts_as_saved(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    store, watcher = batching_store(tmp_path)
    recorder = UsageRecorder(store)
    inputs = prompts(4)
    first = store_backed(sandbox, store, watcher, recorder=recorder)
    again = store_backed(sandbox, store, watcher, recorder=recorder)
    try:
        first.batch(inputs)
        billed_once = sandbox.billing().total
        again.batch(inputs)  # e.g. re-sent after a crash: answered from the stored results
    finally:
        first.close()
        again.close()
    assert sandbox.billing().total == billed_once  # nothing was sent or billed again
    paid, reused = first.get_cache_stats(), again.get_cache_stats()
    assert reused["calls"] == 4 and reused["cost_usd"] == 0
    assert reused["input_tokens"] == reused["output_tokens"] == 0  # none billed
    # The plain price of the same calls, as the first run's baseline says.
    assert reused["baseline_cost_usd"] == pytest.approx(paid["baseline_cost_usd"])
    assert reused["savings_usd"] == pytest.approx(paid["baseline_cost_usd"])

    recorder.flush()
    now = datetime.now(UTC)
    rollups = store.usage(start=now - timedelta(hours=1), end=now + timedelta(hours=1))
    assert sum(r.calls for r in rollups) == 8
    assert sum(r.batched_calls for r in rollups) == 4  # the reused calls were not batched
    assert sum(r.cost_usd for r in rollups) == pytest.approx(float(billed_once.cost_usd or 0))
    assert sum(r.baseline_cost_usd for r in rollups) == pytest.approx(2 * paid["baseline_cost_usd"])
    assert sum(r.output_tokens for r in rollups) == billed_once.output_tokens


def test_a_live_change_of_fallback_to_standard_applies_to_the_next_batch(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    store, watcher = batching_store(tmp_path)
    model = store_backed(sandbox, store, watcher, standard_attempts=1)
    sandbox.add_batch_fault(BatchItemFault.errored("overloaded_error", marker="question 0"))
    try:
        # Fallback on (the default): the errored item is answered by the standard API.
        [answer] = model.batch([[HumanMessage("question 0, first time")]])
        assert answer.content
        assert sandbox.billing().total.requests_succeeded == 1
        [entry] = load_document(store).entries
        update_entry_flags(
            store,
            entry.key,
            {"fallbackToStandard": False},
            expected_revision=load_document(store).revision or "",
            actor="oncall",
        )
        watcher.refresh()
        # Fallback off now: the same failure comes back as the batch's error.
        [failed] = model.batch([[HumanMessage("question 0, again")]], return_exceptions=True)
    finally:
        model.close()
    assert isinstance(failed, ProviderError) and failed.retryable
    assert sandbox.billing().total.requests_succeeded == 1  # nothing sent to the standard API


async def test_an_abatch_partly_answered_by_langchains_cache_does_not_wait_out_the_timeout(
    sandbox: SandboxServer,
) -> None:
    model = OptimizedLLMWrapper(
        chat(sandbox, cache=InMemoryCache()),
        "anthropic",
        {**BATCHING, "batchTimeout": 3600},  # only the group can send this pool
        batch_options=FAST_POLLING,
    )
    known, *new = prompts(3)
    try:
        first = await model.ainvoke(known)  # a plain call under auto: LangChain caches it
        answers = await asyncio.wait_for(model.abatch([known, *new]), timeout=60)
    finally:
        model.close()
    assert answers[0].content == first.content
    billed = sandbox.billing().total
    assert (billed.batch_requests_succeeded, billed.requests_succeeded) == (2, 3)


def test_a_pool_waiting_when_the_kill_switch_is_engaged_is_never_submitted(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # The watcher read the switch released and is not refreshed again (as between two of
    # its ticks): only the store says the switch is engaged when the pool is flushed.
    store, watcher = batching_store(tmp_path, batchTimeout=3600)  # only close() flushes
    model = store_backed(sandbox, store, watcher)
    dispatcher = model.batch_dispatcher
    request = BatchRequest(
        params={"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    )
    futures = [dispatcher.submit(request) for _ in range(3)]
    engage_kill_switch(store, actor="oncall")
    model.close()  # flushes the pool
    assert [f.result(timeout=30) for f in futures] == [None, None, None]  # standard API
    assert sandbox.batch_calls().get("create", 0) == 0
    assert store.list_batches() == []
    assert not watcher.snapshot.kill_switch_engaged  # no refresh happened in between


def test_calls_pooled_before_the_watcher_sees_the_kill_switch_use_the_standard_api(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    store, watcher = batching_store(tmp_path)
    model = store_backed(sandbox, store, watcher, recorder=UsageRecorder(store))
    engage_kill_switch(store, actor="oncall")  # the watcher still says released
    try:
        answers = model.batch(prompts(3))
    finally:
        model.close()
    assert all(a.content for a in answers)
    billed = sandbox.billing().total
    assert (billed.batch_requests_succeeded, billed.requests_succeeded) == (0, 3)
    assert sandbox.batch_calls().get("create", 0) == 0


def test_an_entry_switched_off_in_the_store_submits_no_new_batch(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    store, watcher = batching_store(tmp_path)
    model = store_backed(sandbox, store, watcher)
    [entry] = load_document(store).entries
    update_entry_flags(
        store,
        entry.key,
        {"batchingEnabled": False},
        expected_revision=load_document(store).revision or "",
        actor="oncall",
    )
    try:
        answers = model.batch(prompts(2))
    finally:
        model.close()
    assert all(a.content for a in answers)
    assert sandbox.batch_calls().get("create", 0) == 0
