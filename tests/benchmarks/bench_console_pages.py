"""Server time of every console page, API read and htmx fragment on a store with history.

Seeds a fresh SQLite store with 10,000 batch records (``--requests-per-batch`` custom ids
each, 10 % in flight), 30 days of per-minute usage roll-ups for 5 entries (216,000
rows, then folded into hourly roll-ups as the ``roll_up_usage`` beat task keeps them) and
``--audit-records`` audit records (a filter by part of a name scans them), signs in a
viewer, and times each URL through Django's whole request handling (URL
resolution, middleware: sessions, auth, CSRF, htmx; view; templates) in this process, with
no network and no browser: what the server spends. Prints p50/p95 per URL against issue
5's targets: page (and API read) p95 ≤ 100 ms, htmx fragment p95 ≤ 30 ms.

    uv run python tests/benchmarks/bench_console_pages.py [--rounds 200] [--requests-per-batch 100]
        [--audit-records 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ENTRIES = [
    "anthropic:claude-sonnet-4-6",
    "anthropic:claude-haiku-4-5",
    "support-bot",
    "summariser",
    "openAI:gpt-4o-mini",
]


def seed_store(path: Path, *, requests_per_batch: int, audit_records: int, now: datetime) -> None:
    from llmopt.killswitch import release_kill_switch
    from llmopt.store import (
        AuditEvent,
        BatchRecord,
        BatchStatus,
        DocumentName,
        SQLiteStore,
        UsageRollup,
    )

    store = SQLiteStore(path)
    body = {
        "llm": [
            {
                "provider": key.split(":")[0] if ":" in key else "anthropic",
                "modelKey": key,
                "configuration": {
                    "model": key.split(":")[1] if ":" in key else "claude-sonnet-4-6",
                    "apiKey": "sk-ant-bench-not-real",
                    "optimizationEnabled": True,
                    "cachingEnabled": True,
                },
            }
            for key in ENTRIES
        ]
    }
    store.write_document(
        DocumentName.AI_CONFIG,
        body,
        expected_revision=None,
        audit=AuditEvent(actor="bench", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="bench")
    rng = random.Random(7)
    start = (now - timedelta(days=30)).replace(second=0, microsecond=0)
    minutes = 30 * 24 * 60
    chunk: list[UsageRollup] = []
    for i in range(minutes):
        minute = start + timedelta(minutes=i)
        for key in ENTRIES:
            calls = rng.randint(0, 20)
            chunk.append(
                UsageRollup(
                    minute=minute,
                    entry_key=key,
                    calls=calls,
                    input_tokens=calls * 200,
                    cache_write_tokens=calls * 50,
                    cache_read_tokens=calls * 1500,
                    output_tokens=calls * 300,
                    cost_usd=calls * 0.004,
                    baseline_cost_usd=calls * 0.011,
                )
            )
        if len(chunk) >= 20_000:
            store.add_usage(chunk)
            chunk = []
    store.add_usage(chunk)
    store.fold_usage(through=now - timedelta(minutes=5))  # as the roll_up_usage task keeps it
    statuses = [BatchStatus.ENDED] * 9 + [BatchStatus.IN_PROGRESS]
    for i in range(10_000):
        created = now - timedelta(minutes=4 * (10_000 - i))
        status = BatchStatus.IN_PROGRESS if i == 9_999 else rng.choice(statuses)
        ended = status is BatchStatus.ENDED
        done = requests_per_batch if ended else rng.randint(0, requests_per_batch)
        store.insert_batch(
            BatchRecord(
                id=f"batch_{i:05d}",
                provider="anthropic",
                model="claude-sonnet-4-6",
                entry_key=rng.choice(ENTRIES[:4]),
                provider_batch_id=f"msgbatch_{i:05d}",
                status=status,
                request_counts={
                    "processing": requests_per_batch - done,
                    "succeeded": done,
                    "errored": 0,
                    "canceled": 0,
                    "expired": 0,
                },
                requests={f"r{j}": f"{i:05d}{j:059d}" for j in range(requests_per_batch)},
                created_at=created,
                submitted_at=created,
                ended_at=created + timedelta(minutes=30) if ended else None,
                cost_estimate_usd=done * 0.002,
            )
        )
    for i in range(audit_records):
        store.record_audit(
            AuditEvent(
                actor=f"operator-{i % 40}",
                action="config.update",
                target=f"entry {ENTRIES[i % len(ENTRIES)]}",
                before={"cacheTTL": 300},
                after={"cacheTTL": 3600},
            )
        )
    store.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--requests-per-batch", type=int, default=100)
    parser.add_argument("--audit-records", type=int, default=100_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="llmopt-bench-console-"))
    os.environ["LLMOPT_VAR_DIR"] = str(tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    now = datetime.now(UTC)
    started = time.perf_counter()
    seed_store(
        tmp / "llmopt.sqlite3",
        requests_per_batch=args.requests_per_batch,
        audit_records=args.audit_records,
        now=now,
    )
    took = time.perf_counter() - started
    print(
        f"seeded 10,000 batches, 216,000 minute roll-ups and {args.audit_records:,} audit "
        f"records in {took:.0f} s"
    )

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", interactive=False, verbosity=0)
    viewer = get_user_model().objects.create_user(username="viewer", password="x")
    viewer.groups.add(Group.objects.get(name="viewer"))
    client = Client(HTTP_HOST="127.0.0.1")  # a host ALLOWED_HOSTS admits by default
    client.force_login(viewer)

    in_flight = "batch_09999"
    pages = {
        "overview": "/",
        "configuration": "/config/",
        "entry": "/config/entry/?key=anthropic%3Aclaude-sonnet-4-6",
        "batches": "/batches/",
        "batches in flight": "/batches/?status=active",
        "batches page 100": "/batches/?page=100",
        "batch detail": f"/batches/{in_flight}/",
        "statistics 24 h": "/stats/?range=24h",
        "statistics 7 d": "/stats/?range=7d",
        "statistics 30 d": "/stats/?range=30d",
        "audit log": "/audit/",
        "audit, part of target": "/audit/?target=HAIKU",
        "audit, matching none": "/audit/?actor=nobody",
        "rollback": "/rollback/",
        "api config": "/api/config",
        "api batches": "/api/batches",
        "api statistics 30 d": "/api/statistics?range=30d",
        "api audit": "/api/audit",
        "api audit, matching none": "/api/audit?actor=nobody",
    }
    htmx = {"HTTP_HX_REQUEST": "true"}
    fragments = {
        "overview live": ("/", htmx),
        "batches live": ("/batches/", htmx),
        "batches in flight live": ("/batches/?status=active", htmx),
        "batch detail live": (f"/batches/{in_flight}/", htmx),
    }
    rows: list[tuple[str, str, float, float, float]] = []
    for kind, urls, target in (
        ("page", {k: (v, {}) for k, v in pages.items()}, 100.0),
        ("fragment", fragments, 30.0),
    ):
        for name, (url, headers) in urls.items():
            response = client.get(url, **headers)
            if response.status_code >= 400:
                print(f"{name}: {url} answered {response.status_code}; skipped", file=sys.stderr)
                continue
            times = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                client.get(url, **headers)
                times.append((time.perf_counter() - t0) * 1000)
            rows.append((kind, name, statistics.median(times), percentile(times, 0.95), target))
    print(f"{'':9}{'url':26}{'p50 ms':>9}{'p95 ms':>9}{'target':>9}")
    for kind, name, p50, p95, target in rows:
        verdict = "ok" if p95 <= target else "MISSED"
        print(f"{kind:9}{name:26}{p50:9.1f}{p95:9.1f}{target:9.0f}  {verdict}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
