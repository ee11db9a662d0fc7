"""What recording a batch costs while other batches of its entry are in flight.

``insert_batch_unless_held`` checks, inside SQLite's write lock, that no unfinished
batch of the entry holds one of the new batch's requests: it reads the request maps of
the unfinished batches. This seeds ``--in-flight`` unfinished batches of
``--requests`` requests each on a SQLite file and times, side by side, recording a new
batch of ``--requests`` requests with the plain ``insert_batch`` and with the check.

    uv run python tests/benchmarks/bench_ledger_insert.py [--in-flight 10] [--requests 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from llmopt.store import BatchRecord, BatchStatus, SQLiteStore

ROUNDS = 5


def record(batch_id: str, requests: int, first: int) -> BatchRecord:
    return BatchRecord(
        id=batch_id,
        provider="anthropic",
        model="claude-sonnet-4-6",
        entry_key="anthropic:claude-sonnet-4-6",
        status=BatchStatus.IN_PROGRESS,
        requests={
            f"r{n}": hashlib.sha256(str(first + n).encode()).hexdigest() for n in range(requests)
        },
        created_at=datetime.now(UTC),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    size = args.requests
    with tempfile.TemporaryDirectory(prefix="llmopt-bench-ledger-") as tmp:
        store = SQLiteStore(Path(tmp) / "llmopt.sqlite3")
        for n in range(args.in_flight):
            store.insert_batch(record(f"running-{n}", size, n * size))
        fresh = (args.in_flight + 1) * size  # fingerprints no running batch holds
        times: dict[str, list[float]] = {"insert_batch": [], "insert_batch_unless_held": []}
        for round_ in range(ROUNDS):
            for name in times:
                new = record(f"{name}-{round_}", size, fresh)
                fresh += size
                started = time.perf_counter()
                getattr(store, name)(new)
                times[name].append(time.perf_counter() - started)
                # Ended, so that it holds nothing the next round checks against.
                store.update_batch(new.id, {"status": BatchStatus.ENDED})
        store.close()
    print(
        f"{args.in_flight} batches in flight with {args.in_flight * size:,} requests; "
        f"recording one of {size:,} requests, median of {ROUNDS}:"
    )
    for name, values in times.items():
        print(f"  {name:26} {statistics.median(values) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
