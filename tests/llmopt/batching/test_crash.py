"""The crash benchmark in small: a client SIGKILLed with batches in flight, then a fresh one.

``tests/benchmarks/bench_batch_crash.py`` runs each party as its own program; here the
doomed client is a forked process (no second import of the SDK) and the sandbox restarts
in-process on its data directory, so the whole story takes a few seconds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic

from llmopt.batching import AnthropicBatchClient, BatchRequest
from llmopt.sandbox import BatchOptions, running_sandbox
from llmopt.store import BatchStatus, SQLiteStore

from ...waiting import wait_until
from .conftest import ENTRY, MODEL

REQUESTS = [
    BatchRequest({"max_tokens": 32, "messages": [{"role": "user", "content": f"Question {n}?"}]})
    for n in range(40)
]
SLOW = {"batches": BatchOptions(item_seconds=0.3, parallelism=4)}


def client_for(sdk: anthropic.AsyncAnthropic, store: SQLiteStore) -> AnthropicBatchClient:
    return AnthropicBatchClient(
        sdk,
        store,
        entry_key=ENTRY,
        model=MODEL,
        max_requests=10,
        poll_initial=0.05,
        poll_max=0.2,
        claim_ttl=0.5,
    )


def doomed_client(base_url: str, api_key: str, store_path: Path) -> None:
    async def run() -> None:
        async with anthropic.AsyncAnthropic(base_url=base_url, api_key=api_key) as sdk:
            await client_for(sdk, SQLiteStore(store_path)).run(REQUESTS)

    asyncio.run(run())


def statuses_once_recorded(store: SQLiteStore, count: int) -> dict[str, int] | None:
    """How many of the client's batches are in each status, once it recorded ``count``."""
    records = store.list_batches(entry_key=ENTRY)
    if len(records) < count:
        return None
    return dict(Counter(r.status.value for r in records))


def test_a_client_killed_mid_flight_loses_no_answer_and_pays_for_none_twice(
    tmp_path: Path,
) -> None:
    data_dir, store_path = tmp_path / "sandbox", tmp_path / "ledger.sqlite3"
    store = SQLiteStore(store_path)
    with running_sandbox(data_dir=data_dir, **SLOW) as sandbox:
        doomed = multiprocessing.get_context("fork").Process(
            target=doomed_client, args=(sandbox.base_url, sandbox.api_key, store_path)
        )
        doomed.start()
        try:
            at_kill = wait_until(
                lambda: statuses_once_recorded(store, 4),
                interval=0.005,  # kill it soon after: while its batches are in flight
                what="the client to record its batches",
            )
        finally:
            doomed.kill()  # SIGKILL: no cleanup, no finally blocks
            doomed.join()
    assert at_kill.get("ended", 0) < 4  # it died with work in flight
    with running_sandbox(data_dir=data_dir, **SLOW) as sandbox:  # the provider restarted too

        async def fresh_start() -> tuple[list[Any], list[Any]]:
            async with anthropic.AsyncAnthropic(
                base_url=sandbox.base_url, api_key=sandbox.api_key
            ) as sdk:
                fresh = client_for(sdk, store)
                resumed = await fresh.resume(wait=True)
                return resumed, await fresh.run(REQUESTS)

        resumed, outcomes = asyncio.run(fresh_start())
        billing = sandbox.billing().total

    assert resumed and all(r.status in (BatchStatus.ENDED, BatchStatus.FAILED) for r in resumed)
    assert all(r.status is not BatchStatus.IN_PROGRESS for r in store.list_batches())
    assert all(o.message is not None for o in outcomes)
    collected = sum(r.request_counts["succeeded"] for r in resumed if r.status is BatchStatus.ENDED)
    assert sum(o.source == "reused" for o in outcomes) >= collected > 0
    assert billing.requests_succeeded == len(REQUESTS)  # paid twice: 0
    store.close()
