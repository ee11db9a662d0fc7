"""Server time of the Overview, its live fragment, Statistics and /api/statistics on a full store.

Seeds a fresh SQLite store with 30 days of per-minute roll-ups for 5 entries (216,000
rows) and 10,000 batch records (50 in flight, 200 failed), folds the minutes into hours
(as the beat task does; ``--unfolded`` skips it, to see what folding saves), then calls
each view in-process (URL resolution, view, template rendering; no network, no
middleware) as a viewer, and prints p50 / p95 per URL. Targets from issue 5: a page's
p95 <= 100 ms, an htmx fragment's p95 <= 30 ms.

    uv run python tests/benchmarks/bench_console_pages.py [--requests 200] [--unfolded]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ENTRIES = [f"anthropic:model-{n}" for n in range(5)]
URLS = [
    ("/", "page", 100.0),
    ("/overview/live", "fragment", 30.0),
    ("/stats/?range=24h", "page", 100.0),
    ("/stats/?range=7d", "page", 100.0),
    ("/stats/?range=30d", "page", 100.0),
    ("/api/statistics?range=30d", "api", 100.0),
]


class Viewer:
    """A signed-in user holding every permission, without a database behind it."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    pk = 1

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return True

    def has_module_perms(self, app_label: str) -> bool:
        return True

    def get_username(self) -> str:
        return "bench"


def seed(store: Any, now: datetime) -> None:
    from llmopt.store import BatchRecord, BatchStatus, UsageRollup

    rng = random.Random(5)
    start = now.replace(second=0, microsecond=0) - timedelta(days=30)
    minutes = 30 * 24 * 60
    for day in range(30):
        rows = [
            UsageRollup(
                minute=start + timedelta(minutes=m),
                entry_key=entry,
                calls=3,
                optimized_calls=2,
                input_tokens=rng.randrange(1_000, 5_000),
                cache_write_tokens=rng.randrange(0, 2_000),
                cache_read_tokens=rng.randrange(0, 20_000),
                output_tokens=rng.randrange(100, 1_000),
                cost_usd=0.01,
                baseline_cost_usd=0.03,
                errors=int(rng.random() < 0.01),
            )
            for m in range(day * 1440, min((day + 1) * 1440, minutes))
            for entry in ENTRIES
        ]
        store.add_usage(rows)
    statuses = [BatchStatus.IN_PROGRESS] * 50 + [BatchStatus.FAILED] * 200
    statuses += [BatchStatus.ENDED] * (10_000 - len(statuses))
    rng.shuffle(statuses)
    for n, status in enumerate(statuses):
        store.insert_batch(
            BatchRecord(
                id=f"batch-{n:05d}",
                provider="anthropic",
                model="claude-sonnet-4-6",
                entry_key=ENTRIES[n % 5],
                status=status,
                created_at=now - timedelta(minutes=n * 4),
                error="invalid_request: too large" if status == BatchStatus.FAILED else None,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--unfolded", action="store_true", help="do not fold minutes into hours")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-console-"))
    os.environ["LLMOPT_SQLITE_PATH"] = str(folder / "llmopt.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    import django

    django.setup()
    from django.test import RequestFactory
    from django.urls import resolve

    from console.store import get_store
    from llmopt.killswitch import release_kill_switch

    store = get_store()
    now = datetime.now(UTC)
    began = time.perf_counter()
    seed(store, now)
    release_kill_switch(store, actor="bench")
    seconds = time.perf_counter() - began
    print(f"seeded 216,000 minute roll-ups and 10,000 batches in {seconds:.1f} s")
    if not args.unfolded:
        began = time.perf_counter()
        written = store.fold_usage(through=now)
        print(f"folded into {written:,} hourly roll-ups in {time.perf_counter() - began:.2f} s")

    factory = RequestFactory()
    print(f"{'url':32} {'kind':9} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
    for url, kind, target in URLS:
        path, _, query = url.partition("?")
        match = resolve(path)
        timings = []
        for n in range(args.requests + 10):
            request = factory.get(url, headers={"HX-Request": "true"} if kind == "fragment" else {})
            request.user = Viewer()  # type: ignore[assignment]
            began = time.perf_counter()
            response = match.func(request, *match.args, **match.kwargs)
            elapsed = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, (url, response.status_code)
            if n >= 10:  # the first calls warm caches and compile templates
                timings.append(elapsed)
        p50 = statistics.median(timings)
        p95 = statistics.quantiles(timings, n=20)[-1]
        verdict = "ok" if p95 <= target else "SLOW"
        print(f"{url:32} {kind:9} {p50:8.1f} {p95:8.1f} {target:8.0f} {verdict}")


if __name__ == "__main__":
    main()
