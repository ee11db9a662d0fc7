"""Failover time: from the first failure to the backup's answer, through get_routed_model.

    uv run python tests/benchmarks/bench_failover.py [--calls 30] [--sdk-retries 2]

The sandbox answers the primary entry (Claude) with 529 overloaded on every call after a
drawn latency (p50 300 ms, p95 900 ms) and the backup (an OpenAI stand-in) after its
own (p50 500 ms, p95 1,500 ms). Prints, per call, the handler's
``failover_seconds`` (first failure caught → backup's answer; the design's target is
under 2 s) while the circuit is still closed, and the whole call's time once it is open
(no call to the primary at all). ``--sdk-retries`` is the primary's ``maxRetries``: while
the backup is ready the routed model calls the primary once with its client's retries
off, so the SDK's backoff (about 2 s for 2 retries) is not part of the wait.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from llmopt.killswitch import release_kill_switch
from llmopt.routing import get_routed_model
from llmopt.sandbox import running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore
from llmopt.wrapper._watcher import watcher_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--sdk-retries", type=int, default=2)
    args = parser.parse_args()
    with running_sandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "store.db")
        entries = [
            {
                "provider": "anthropic",
                "modelKey": "primary",
                "configuration": {
                    "model": "claude-sonnet-4-6",
                    "apiKey": sandbox.api_key,
                    "baseUrl": sandbox.base_url,
                    "maxTokens": 64,
                    "maxRetries": args.sdk_retries,
                },
            },
            {
                "provider": "openAI",
                "modelKey": "backup",
                "configuration": {
                    "model": "gpt-5.4-mini",
                    "apiKey": "sk-sandbox",
                    "baseUrl": f"{sandbox.base_url}/v1",
                    "maxTokens": 64,
                },
            },
        ]
        routing = {
            "enabled": True,
            "fallbackChain": ["primary", "backup"],
            "rules": [{"name": "primary first", "prefer": ["primary"]}],
            "circuitBreaker": {"failureThreshold": 5, "coolDownSeconds": 600},
        }
        store.write_document(
            DocumentName.AI_CONFIG,
            {"llm": entries, "routing": routing},
            expected_revision=None,
            audit=AuditEvent(actor="bench", action="seed", target="aiconfigs"),
        )
        release_kill_switch(store, actor="bench")
        watcher_for(store).refresh()
        sandbox.set_model_behaviour(
            {
                "claude-sonnet-4-6": {
                    "error": "overloaded",
                    "latency": {"p50_ms": 300, "p95_ms": 900},
                },
                "gpt-5.4-mini": {"latency": {"p50_ms": 500, "p95_ms": 1500}},
            }
        )
        model = get_routed_model(store)
        model.invoke("warm up the clients")
        failovers: list[float] = []
        failover_calls: list[float] = []
        open_calls: list[float] = []
        for _ in range(args.calls):
            start = time.perf_counter()
            answer = model.invoke("Hello")
            elapsed = time.perf_counter() - start
            failover = answer.response_metadata["llmopt_failover"]
            if failover["failover_seconds"] is not None:
                failovers.append(failover["failover_seconds"])
                failover_calls.append(elapsed)
            else:
                open_calls.append(elapsed)
        model.close()
    print(f"primary overloaded, SDK retries {args.sdk_retries}, {args.calls} calls")
    if failovers:
        print(
            f"  circuit closed: {len(failovers)} calls failed over; failover_seconds "
            f"median {statistics.median(failovers):.3f} s, max {max(failovers):.3f} s; "
            f"whole call median "
            f"{statistics.median(failover_calls):.3f} s, max {max(failover_calls):.3f} s"
        )
    if open_calls:
        print(
            f"  circuit open: {len(open_calls)} calls straight to the backup; whole call "
            f"median {statistics.median(open_calls) * 1000:.1f} ms, "
            f"max {max(open_calls) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
