"""Kill switch set → how long until 8 separate wrapper processes stop optimizing?

Each worker process builds a real ``OptimizedLLMWrapper`` (``get_generator_model`` on
the stored ``llm`` entry, default 1 s ``FlagWatcher``) over ChatAnthropic and the
sandbox, and calls ``invoke`` in a loop. It reports the wall-clock time of its first call
that went out unoptimized (the wrapper's own ``optimized_calls`` counter stops moving).
The parent engages the kill switch in the shared SQLite store once every worker has
made optimized calls, then prints each worker's delay and the maximum; the issue's
target is every worker within 2 s. Then it releases the switch and measures the way back.

    uv run python tests/benchmarks/bench_kill_switch_propagation.py [--workers 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.sandbox import running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

MODEL = "claude-sonnet-4-6"

WORKER = """
import sys, time
from llmopt import get_generator_model
from llmopt.store import SQLiteStore

store = SQLiteStore(sys.argv[1])
config = {"model": "%(model)s", "apiKey": sys.argv[3], "baseUrl": sys.argv[2], "maxTokens": 8,
          "maxRetries": 0, "optimizationEnabled": True, "cachingEnabled": True}
model = get_generator_model("anthropic", config, store=store, entry_key="main")
prompt = [("system", "policy " * 1500), ("human", "hello")]
optimized = None
while True:
    before = model.cache_stats().optimized_calls
    model.invoke(prompt)
    now_optimized = model.cache_stats().optimized_calls > before
    if now_optimized != optimized:
        print("optimized" if now_optimized else "plain", time.time(), flush=True)
        optimized = now_optimized
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, running_sandbox() as sandbox:
        path = Path(tmp) / "llmopt.sqlite3"
        store = SQLiteStore(path)
        body = {
            "llm": [
                {
                    "provider": "anthropic",
                    "modelKey": "main",
                    "configuration": {
                        "model": MODEL,
                        "optimizationEnabled": True,
                        "cachingEnabled": True,
                    },
                }
            ]
        }
        store.write_document(
            DocumentName.AI_CONFIG,
            body,
            expected_revision=None,
            audit=AuditEvent(actor="bench", action="seed", target="aiconfigs"),
        )
        release_kill_switch(store, actor="bench")
        code = WORKER % {"model": MODEL}
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(path), sandbox.base_url, sandbox.api_key],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(args.workers)
        ]
        try:
            for worker in workers:
                assert worker.stdout is not None
                word, _ = worker.stdout.readline().split()
                if word == "plain":  # a call made before the watcher's first read: fail-safe
                    word, _ = worker.stdout.readline().split()
                assert word == "optimized", word
            print(f"{args.workers} wrapper processes calling the sandbox, all optimized")
            off: list[float] = []
            on: list[float] = []
            for round_ in range(1, args.rounds + 1):
                time.sleep(1.5)  # let every watcher settle into its own phase
                for change, word, sink in (
                    (engage_kill_switch, "plain", off),
                    (release_kill_switch, "optimized", on),
                ):
                    at = time.time()
                    change(store, actor="bench", reason=f"round {round_}")
                    delays = []
                    for worker in workers:
                        assert worker.stdout is not None
                        seen, when = worker.stdout.readline().split()
                        assert seen == word, (seen, word)
                        delays.append(float(when) - at)
                    sink.append(max(delays))
                    print(
                        f"round {round_} {word:>9}: slowest {max(delays):.2f} s, "
                        f"median {statistics.median(delays):.2f} s over {len(delays)} processes"
                    )
            print(
                f"kill switch → all {args.workers} processes plain: worst {max(off):.2f} s "
                f"(target ≤ 2 s); release → all optimized again: worst {max(on):.2f} s"
            )
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()
                if worker.stdout is not None:
                    worker.stdout.close()


if __name__ == "__main__":
    main()
