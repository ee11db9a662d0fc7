"""A batch client SIGKILLed with batches in flight: does a fresh one collect them, paying once?

Processes (real SDK, real HTTP, real time, one SQLite ledger file):
  1. the sandbox, ``python -m llmopt.sandbox --data-dir D`` (slow batches)
  2. a client that runs all requests through ``AnthropicBatchClient.run``; it is
     SIGKILLed as soon as its batches are in flight (the last create may still be on
     the wire, leaving a PENDING record whose batch may or may not exist)
  3. optionally (default on) the sandbox is SIGKILLed too and restarted on its data dir
  4. a fresh client: ``resume(wait=True)``, then the same requests again with ``run``
     (with ``--resend-first``, no resume: the re-send must wait for the orphaned batches)

It prints what the resume collected, what the re-send did, the sandbox's billing
(batch items succeeded vs requests) and "paid twice": billed answers beyond one per
request, which must be 0.

    uv run python tests/benchmarks/bench_batch_crash.py [--requests 400] [--batch-size 50]
        [--item-seconds 0.5] [--parallelism 25] [--no-restart-sandbox] [--resend-first]
        [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic

from llmopt.batching import AnthropicBatchClient, BatchRequest
from llmopt.store import BatchStatus, SQLiteStore

MODEL = "claude-sonnet-4-6"
ENTRY = "crash-bench"
API_KEY = "sk-ant-sandbox"
CLAIM_TTL = 2.0  # how long a dead client's claims block the fresh one, in seconds


def the_requests(count: int) -> list[BatchRequest]:
    return [
        BatchRequest(
            params={
                "model": MODEL,
                "max_tokens": 64,
                "messages": [{"role": "user", "content": f"Question {n}: what is {n} squared?"}],
            }
        )
        for n in range(count)
    ]


def batch_client(
    sdk: anthropic.AsyncAnthropic, store: SQLiteStore, batch_size: int
) -> AnthropicBatchClient:
    return AnthropicBatchClient(
        sdk,
        store,
        entry_key=ENTRY,
        max_requests=batch_size,
        poll_initial=0.1,
        poll_max=0.5,
        claim_ttl=CLAIM_TTL,
    )


def sdk_client(base_url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY, max_retries=2)


# -- the two client processes ------------------------------------------------------------


async def submit_role(args: argparse.Namespace) -> None:
    store = SQLiteStore(args.store)
    async with sdk_client(args.base_url) as sdk:
        await batch_client(sdk, store, args.batch_size).run(the_requests(args.requests))
    print("submitter finished before it was killed", flush=True)


async def resume_role(args: argparse.Namespace) -> None:
    store = SQLiteStore(args.store)
    async with sdk_client(args.base_url) as sdk:
        client = batch_client(sdk, store, args.batch_size)
        started = time.monotonic()
        resumed = [] if args.resend_first else await client.resume(wait=True)
        resume_seconds = time.monotonic() - started
        outcomes = await client.run(the_requests(args.requests))
    sources = Counter(o.source for o in outcomes)
    report = {
        "resumed_batches": len(resumed),
        "resumed_statuses": dict(Counter(r.status.value for r in resumed)),
        "answers_collected": sum(
            r.request_counts.get("succeeded", 0) for r in resumed if r.status is BatchStatus.ENDED
        ),
        "resume_seconds": round(resume_seconds, 2),
        "resend_sources": dict(sources),
        "resend_answered": sum(1 for o in outcomes if o.message is not None),
        "resend_errors": [str(o.error) for o in outcomes if o.error is not None][:5],
    }
    print(json.dumps(report), flush=True)


# -- the orchestration ------------------------------------------------------------------


def start_sandbox(data_dir: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "llmopt.sandbox",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--batch-item-seconds",
        str(args.item_seconds),
        "--batch-parallelism",
        str(args.parallelism),
        "--api-key",
        API_KEY,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    return process, line.rsplit(" ", 1)[-1].strip()


def client_process(role: str, base_url: str, store: Path, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        __file__,
        role,
        "--base-url",
        base_url,
        "--store",
        str(store),
        "--requests",
        str(args.requests),
        "--batch-size",
        str(args.batch_size),
        *(["--resend-first"] if args.resend_first else []),
    ]


def wait_until_in_flight(
    store_path: Path, batches: int, submitter: subprocess.Popen[str], timeout: float
) -> dict[str, int]:
    """Poll the ledger until every batch is recorded; the statuses at that moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if submitter.poll() is not None:
            raise RuntimeError("the submitter ended before it could be killed")
        if store_path.exists():
            store = SQLiteStore(store_path)
            try:
                records = store.list_batches(entry_key=ENTRY, limit=10_000)
            finally:
                store.close()
            if len(records) >= batches:
                return dict(Counter(r.status.value for r in records))
        time.sleep(0.01)
    raise RuntimeError("the submitter did not record its batches in time")


def billing(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "/_sandbox/billing", timeout=10) as response:
        total: dict[str, Any] = json.loads(response.read())["total"]
        return total


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="llmopt-crash-") as work:
        data_dir, store_path = Path(work) / "sandbox", Path(work) / "ledger.sqlite3"
        SQLiteStore(store_path).close()  # the schema exists before two processes race for it
        sandbox, base_url = start_sandbox(data_dir, args)
        try:
            expected = math.ceil(args.requests / args.batch_size)
            submitter = subprocess.Popen(
                client_process("submit", base_url, store_path, args), text=True
            )
            try:
                at_kill = wait_until_in_flight(store_path, expected, submitter, timeout=60)
            finally:
                os.kill(submitter.pid, signal.SIGKILL)
                submitter.wait()
            if args.restart_sandbox:
                os.kill(sandbox.pid, signal.SIGKILL)
                stop(sandbox)
                sandbox, base_url = start_sandbox(data_dir, args)
            resumer = subprocess.run(
                client_process("resume", base_url, store_path, args),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if resumer.returncode != 0:
                raise RuntimeError(f"the fresh client failed:\n{resumer.stderr}")
            report: dict[str, Any] = json.loads(resumer.stdout.strip().splitlines()[-1])
            billed = billing(base_url)
        finally:
            stop(sandbox)
    succeeded = int(billed["requests_succeeded"])
    return {
        "requests": args.requests,
        "batches": expected,
        "ledger_at_kill": at_kill,
        "sandbox_restarted": args.restart_sandbox,
        "resend_first": args.resend_first,
        **report,
        "billed_batch_items_succeeded": int(billed["batch_requests_succeeded"]),
        "billed_standard_succeeded": succeeded - int(billed["batch_requests_succeeded"]),
        "billed_requests_succeeded": succeeded,
        "billed_cost_usd": billed["cost_usd"],
        # Every request ends answered once; any billed answer beyond that was paid twice.
        "paid_twice": succeeded - report["resend_answered"],
    }


def print_report(result: dict[str, Any]) -> None:
    print(f"requests: {result['requests']} in {result['batches']} batches")
    print(f"ledger when the client was SIGKILLed: {result['ledger_at_kill']}")
    print(f"sandbox SIGKILLed and restarted on its data dir: {result['sandbox_restarted']}")
    if result["resend_first"]:
        print("resume: skipped (--resend-first): the re-send meets the batches still running")
    else:
        print(
            f"resume(wait=True): {result['resumed_batches']} batches "
            f"{result['resumed_statuses']} in {result['resume_seconds']} s, "
            f"results collected: {result['answers_collected']}"
        )
    print(
        f"re-sent the same {result['requests']} requests: {result['resend_sources']}, "
        f"answered {result['resend_answered']}"
    )
    print(
        f"sandbox billing: batch items succeeded {result['billed_batch_items_succeeded']}, "
        f"standard requests succeeded {result['billed_standard_succeeded']}, "
        f"requests {result['requests']} (cost ${result['billed_cost_usd']})"
    )
    print(f"paid twice: {result['paid_twice']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="main", choices=["main", "submit", "resume"])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--item-seconds", type=float, default=0.5)
    parser.add_argument("--parallelism", type=int, default=25)
    parser.add_argument("--no-restart-sandbox", dest="restart_sandbox", action="store_false")
    parser.add_argument("--resend-first", action="store_true", help="re-send without resume")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "submit":
        asyncio.run(submit_role(args))
        return 0
    if args.role == "resume":
        asyncio.run(resume_role(args))
        return 0
    result = orchestrate(args)
    if args.json:
        print(json.dumps(result))
    else:
        print_report(result)
    return 0 if result["paid_twice"] == 0 and result["resend_answered"] == args.requests else 1


if __name__ == "__main__":
    raise SystemExit(main())
