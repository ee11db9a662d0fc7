"""Server time of the Batches page and its htmx fragment over a large ledger.

Seeds a SQLite store with 10,000 batch records of 100-1,000 requests each (a fifth of
them in flight, three entries), then times, in-process through Django's test client
(server time only: no network, no browser):

  list_batches(limit=50) with and without the ``requests`` map (the store alone)
  GET /batches/                  the full page, first page and a filtered deep page
  GET /batches/ (HX-Request)     the table fragment the page polls

The issue's targets: page p95 <= 100 ms, fragment p95 <= 30 ms.

    uv run python tests/benchmarks/bench_batches_pages.py [--records 10000] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

STATUSES = ["ended"] * 8 + ["in_progress", "pending"]
ENTRIES = ["main", "bulk", "nightly"]


def seed(path: Path, records: int) -> None:
    from llmopt.store import BatchRecord, BatchStatus, SQLiteStore

    rng = random.Random(5)
    store = SQLiteStore(path)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(records):
        size = rng.randint(100, 1000)
        status = BatchStatus(rng.choice(STATUSES))
        ended = status is BatchStatus.ENDED
        store.insert_batch(
            BatchRecord(
                id=f"batch_{n:06d}",
                provider="anthropic",
                model="claude-sonnet-4-6",
                entry_key=rng.choice(ENTRIES),
                provider_batch_id=f"msgbatch_{n:06d}",
                status=status,
                request_counts={
                    "processing": 0 if ended else size,
                    "succeeded": size if ended else 0,
                    "errored": 0,
                    "canceled": 0,
                    "expired": 0,
                },
                requests={f"req-{i:06d}": f"{n:08x}{i:056x}" for i in range(size)},
                created_at=start + timedelta(minutes=n),
                submitted_at=start + timedelta(minutes=n),
                ended_at=start + timedelta(minutes=n + 30) if ended else None,
                cost_estimate_usd=size * 0.0004 if ended else None,
            )
        )
    store.close()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def timed(label: str, runs: int, call: Callable[[], object]) -> None:
    call()  # warm up (templates, sqlite page cache)
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    median = statistics.median(samples) * 1000
    print(f"{label:<52} median {median:7.1f} ms   p95 {p95(samples):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--db", type=Path, help="reuse (or create) this store file")
    args = parser.parse_args()

    path = args.db or Path(tempfile.mkdtemp()) / "bench.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        began = time.perf_counter()
        seed(path, args.records)
        size_mb = path.stat().st_size / 1e6
        took = time.perf_counter() - began
        print(f"seeded {args.records} batches in {took:.0f} s ({size_mb:.0f} MB)")

    os.environ["LLMOPT_SQLITE_PATH"] = str(path)
    os.environ["DATABASE_URL"] = f"sqlite:///{path.parent / 'console.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client

    from console.store import get_store

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    viewer, _ = User.objects.get_or_create(username="bench-viewer")
    viewer.groups.add(Group.objects.get(name="viewer"))
    client = Client()
    client.force_login(viewer)
    store = get_store()

    timed("store: list_batches(50) with requests", args.runs, lambda: store.list_batches(limit=50))
    timed(
        "store: list_batches(50, with_requests=False)",
        args.runs,
        lambda: store.list_batches(limit=50, with_requests=False),
    )
    for label, query in [
        ("page  /batches/", {}),
        (
            "page  /batches/?status=ended&entry=bulk&page=40",
            {"status": "ended", "entry": "bulk", "page": 40},
        ),
        ("page  /batches/?status=active", {"status": "active"}),
    ]:
        timed(label, args.runs, lambda q=query: _ok(client.get("/batches/", q)))
    timed(
        "fragment /batches/ (HX-Request)",
        args.runs,
        lambda: _ok(client.get("/batches/", HTTP_HX_REQUEST="true")),
    )
    timed(
        "fragment /batches/?status=active (HX-Request)",
        args.runs,
        lambda: _ok(client.get("/batches/", {"status": "active"}, HTTP_HX_REQUEST="true")),
    )
    timed("page  /batches/<id>/", args.runs, lambda: _ok(client.get("/batches/batch_009990/")))
    timed(
        "fragment /batches/<id>/ (HX-Request)",
        args.runs,
        lambda: _ok(client.get("/batches/batch_009990/", HTTP_HX_REQUEST="true")),
    )
    timed(
        "api   /api/batches?limit=50",
        args.runs,
        lambda: _ok(client.get("/api/batches", {"limit": 50})),
    )


def _ok(response: object) -> None:
    status = getattr(response, "status_code", 0)
    assert status in (200, 286), status


if __name__ == "__main__":
    main()
