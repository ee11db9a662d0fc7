"""100,000 requests through the accumulator to Message Batches and back to their callers.

The sandbox runs as its own process (instant batch processing), so the figures below
are the client's: the wrapper's BatchDispatcher pools the requests (each caller holds a
future), the AnthropicBatchClient records the ledger in a SQLite store, submits, polls,
downloads the JSONL results and maps them back by custom_id, and every future resolves.

    uv run python tests/benchmarks/bench_batch_throughput.py [--requests 100000] [--max-requests N]

``--max-requests`` lowers the per-batch request limit to show the automatic split.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anthropic

from llmopt.batching import AnthropicBatchClient, BatchRequest
from llmopt.store import SQLiteStore
from llmopt.wrapper._batching import BatchDispatcher

MODEL = "claude-haiku-4-5"


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "llmopt.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if found := re.search(r"(http://127\.0\.0\.1:\d+)", line):
            return process, found[1]
    raise RuntimeError("the sandbox did not start")


def main(requests: int, max_requests: int | None) -> None:
    sandbox, base_url = start_sandbox()
    folder = Path(tempfile.mkdtemp(prefix="llmopt-bench-"))
    store = SQLiteStore(folder / "ledger.db")
    try:

        def make_client() -> tuple[AnthropicBatchClient, anthropic.AsyncAnthropic]:
            sdk = anthropic.AsyncAnthropic(base_url=base_url, api_key="bench", max_retries=2)
            client = AnthropicBatchClient(
                sdk,
                store,
                entry_key=f"anthropic:{MODEL}",
                model=MODEL,
                max_requests=max_requests,
                poll_initial=0.05,
                poll_max=0.5,
            )
            return client, sdk

        # batchMaxSize at the request count: the pool flushes as the last one arrives.
        pool = min(requests, 100_000)
        dispatcher = BatchDispatcher(make_client, lambda: (True, pool, 5.0))
        started = time.perf_counter()
        futures = [
            dispatcher.submit(
                BatchRequest(
                    params={
                        "model": MODEL,
                        "max_tokens": 16,
                        "messages": [{"role": "user", "content": f"Classify item {n}."}],
                    }
                )
            )
            for n in range(requests)
        ]
        submitted = time.perf_counter()
        outcomes = [future.result(timeout=600) for future in futures]
        finished = time.perf_counter()
        dispatcher.close()

        answered = sum(1 for o in outcomes if o is not None and o.message is not None)
        batches = store.list_batches(limit=1000)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        wall = finished - started
        print(f"requests: {requests:,}  answered: {answered:,}  batches: {len(batches)}")
        print(f"  sizes: {sorted(len(b.requests) for b in batches)}")
        print(f"wall time: {wall:.1f} s (pooling {submitted - started:.1f} s)")
        print(f"throughput: {requests / wall:,.0f} requests/s")
        print(f"client peak memory (max RSS): {peak_mib:,.0f} MiB")
        print("target: under 60 s and under 1 GB")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        if sandbox.stdout is not None:
            sandbox.stdout.close()
        store.close()
        for path in folder.iterdir():
            path.unlink()
        os.rmdir(folder)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--max-requests", type=int, default=None)
    arguments = parser.parse_args()
    main(arguments.requests, arguments.max_requests)
