"""Chaos run: 1,000 routed requests while one provider is down and another rate-limits.

    uv run python tests/benchmarks/bench_chaos.py [--requests 1000] [--processes 2]
        [--callers 8] [--seconds 110] [--outage-start 20] [--outage-seconds 60]
        [--cool-down 10] [--claude-budget-usd 0.08] [--budget-tokens 52000]

One sandbox plays three providers: Claude (``claude``), an OpenAI model (``mini``) and an
Ollama model (``local``), each with its own drawn latency. Claude is down (529) for
``--outage-seconds`` of real time; the OpenAI model lets 5 requests a second through and
answers the rest 429 with ``retry-after``. ``--callers`` callers, spread over
``--processes`` worker processes that share one SQLite store (as a web server's workers
would), send the requests through ``get_routed_model`` on a fixed schedule over
``--seconds``: a quarter streamed, the rest ``invoke``; tasks alternate code, chat,
extraction and reasoning. Two budgets apply: ``claude-day`` (route to a cheaper entry at
its limit) and ``all-day`` (refuse at its limit).

It prints what served each phase (before, during, after the outage) and how fast, the
circuits' incidents, the budgets' spend, and checks the issue's claims, exiting 1 when
one fails:

* every request is answered or refused with one of llmopt's errors (``BudgetExceeded``,
  ``NoHealthyEntry``, ``NoEligibleEntry``), never a raw provider error;
* none is answered twice: the sandbox billed exactly as many answers as callers got;
* Claude's circuit opens within the configured failures (each process counts its own
  window, so at most ``failureThreshold`` per process plus the calls already in
  flight), and closes within a cool-down (plus a probe and a store refresh) after the
  outage ends;
* the spend the budgets recorded is what the sandbox billed, and no budget is overshot
  by more than the calls in flight when it was reached.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmopt.killswitch import release_kill_switch
from llmopt.sandbox import running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore
from llmopt.tokens import BudgetGuard, BudgetSettings

CLAUDE, MINI, LOCAL = "claude-sonnet-4-6", "gpt-5.4-mini", "llama3.1:8b"
CLEAR_ERRORS = {"BudgetExceeded", "NoHealthyEntry", "NoEligibleEntry"}
TASKS = (
    "Write a Python function that parses an ISO 8601 date and returns a datetime.",
    "Hi there! How is your day going?",
    "Extract the names and dates from: Ada met Charles on 5 June 1833 in London.",
    "Why does ice float on water? Reason it out step by step.",
)
FAILURE_THRESHOLD = 5


def document(
    base_url: str, api_key: str, *, claude_usd: float, all_tokens: int, cool_down: float
) -> dict[str, Any]:
    return {
        "llm": [
            {
                "provider": "anthropic",
                "modelKey": "claude",
                "isDefault": True,
                "configuration": {
                    "model": CLAUDE,
                    "apiKey": api_key,
                    "baseUrl": base_url,
                    "maxTokens": 64,
                    "routing": {"tasks": ["code", "reasoning"], "quality": 0.95},
                },
            },
            {
                "provider": "openAI",
                "modelKey": "mini",
                "configuration": {
                    "model": MINI,
                    "apiKey": "sk-sandbox",
                    "baseUrl": f"{base_url}/v1",
                    "maxTokens": 64,
                    "routing": {"tasks": ["chat", "extraction"], "quality": 0.85},
                },
            },
            {
                "provider": "ollama",
                "modelKey": "local",
                "configuration": {
                    "model": LOCAL,
                    "baseUrl": base_url,
                    "maxTokens": 64,
                    "routing": {"quality": 0.6},
                },
            },
        ],
        "routing": {
            "enabled": True,
            "fallbackChain": ["claude", "mini", "local"],
            "rules": [
                {
                    "name": "code and reasoning to Claude",
                    "when": {"task": ["code", "reasoning"]},
                    "prefer": ["claude"],
                },
                {"name": "chat to mini", "when": {"task": "chat"}, "prefer": ["mini"]},
            ],
            "circuitBreaker": {
                "failureThreshold": FAILURE_THRESHOLD,
                "windowSeconds": 30,
                "coolDownSeconds": cool_down,
            },
        },
        "budgets": [
            {
                "name": "claude-day",
                "entry": "claude",
                "period": "day",
                "limitUsd": claude_usd,
                "atLimit": "route_cheaper",
            },
            {"name": "all-day", "period": "day", "limitTokens": all_tokens, "atLimit": "refuse"},
        ],
    }


@dataclass
class Outcome:
    index: int
    task: int
    streamed: bool
    started: float  # seconds after the schedule's start
    seconds: float
    entry: str | None
    error: str | None  # the exception's class name
    message: str
    attempts: list[tuple[str, str, str | None]]


def run_worker(
    store_path: str,
    indices: list[int],
    gap: float,
    callers: int,
    ready: Any,
    start_at: Any,
    results: Any,
) -> None:
    """One worker process: ``callers`` threads send ``indices`` on their schedule, which
    starts once every process is ready (imports done, the document read)."""
    # A web worker imports its providers' packages at start-up, not on its first call.
    import langchain_anthropic  # noqa: F401
    import langchain_ollama  # noqa: F401
    import langchain_openai  # noqa: F401

    from llmopt.routing import get_routed_model
    from llmopt.wrapper._watcher import watcher_for

    store = SQLiteStore(store_path)
    model = get_routed_model(store)
    watcher_for(store).wait_for(lambda s: s.document is not None, timeout=30)
    ready.wait()  # the parent sets the schedule's start
    ready.wait()
    start = start_at.value
    todo: queue.Queue[int] = queue.Queue()
    for index in indices:
        todo.put(index)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def caller() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            outcome = one_request(model, index, start, gap)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    model.close()
    store.close()
    results.put(outcomes)


def one_request(model: Any, index: int, start_at: float, gap: float) -> Outcome:
    due = start_at + index * gap
    time.sleep(max(0.0, due - time.time()))
    task = index % len(TASKS)
    streamed = index % 4 == 1
    prompt = f"[request {index}] {TASKS[task]}"
    began = time.time()
    try:
        if streamed:
            answer = None
            for chunk in model.stream(prompt):
                answer = chunk if answer is None else answer + chunk
            assert answer is not None, "an empty stream"
        else:
            answer = model.invoke(prompt)
    except Exception as exc:
        return Outcome(
            index, task, streamed, began - start_at, time.time() - began, None,
            type(exc).__name__, str(exc)[:300], [],
        )  # fmt: skip
    failover = answer.response_metadata.get("llmopt_failover") or {}
    attempts = [(a["entry"], a["outcome"], a["error_class"]) for a in failover.get("attempts", [])]
    entry = answer.response_metadata["llmopt_route"]["entry"]
    return Outcome(
        index, task, streamed, began - start_at, time.time() - began, entry, None, "", attempts
    )


def seed(store: SQLiteStore, body: dict[str, Any]) -> None:
    store.write_document(
        DocumentName.AI_CONFIG,
        body,
        expected_revision=None,
        audit=AuditEvent(actor="bench", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="bench")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--callers", type=int, default=8, help="in all, over the processes")
    parser.add_argument("--seconds", type=float, default=110.0, help="the schedule's length")
    parser.add_argument("--outage-start", type=float, default=20.0)
    parser.add_argument("--outage-seconds", type=float, default=60.0)
    parser.add_argument("--cool-down", type=float, default=10.0, help="coolDownSeconds")
    parser.add_argument("--claude-budget-usd", type=float, default=0.08)
    parser.add_argument("--budget-tokens", type=int, default=52_000)
    args = parser.parse_args()
    gap = args.seconds / args.requests
    failed: list[str] = []

    def check(ok: bool, claim: str) -> None:
        print(f"  {'ok  ' if ok else 'FAIL'} {claim}")
        if not ok:
            failed.append(claim)

    with running_sandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        store_path = str(Path(folder) / "store.db")
        store = SQLiteStore(store_path)
        seed(
            store,
            document(
                sandbox.base_url,
                sandbox.api_key,
                claude_usd=args.claude_budget_usd,
                all_tokens=args.budget_tokens,
                cool_down=args.cool_down,
            ),
        )
        context = multiprocessing.get_context("spawn")
        ready = context.Barrier(args.processes + 1)
        start_value = context.Value("d", 0.0)
        results = context.Queue()
        per_process = max(1, args.callers // args.processes)
        workers = [
            context.Process(
                target=run_worker,
                args=(
                    store_path,
                    list(range(p, args.requests, args.processes)),
                    gap,
                    per_process,
                    ready,
                    start_value,
                    results,
                ),
            )
            for p in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        ready.wait(timeout=120)
        lead = 0.5
        outage = {
            "start": lead + args.outage_start,
            "end": lead + args.outage_start + args.outage_seconds,
        }
        sandbox.set_model_behaviour(
            {
                CLAUDE: [
                    {"latency": {"p50_ms": 400, "p95_ms": 1200}},
                    {"outage": outage, "error": "overloaded"},
                ],
                MINI: [
                    {"latency": {"p50_ms": 300, "p95_ms": 900}},
                    {"rate_limit": {"requests": 5, "per_seconds": 1}},
                ],
                LOCAL: {"latency": {"p50_ms": 200, "p95_ms": 600}},
            }
        )
        set_at = time.time()
        start_at = start_value.value = set_at + lead
        outage_start, outage_end = start_at + args.outage_start, outage["end"] + set_at
        ready.wait(timeout=60)
        outcomes = sorted(
            (o for _ in workers for o in results.get(timeout=args.seconds * 4 + 120)),
            key=lambda o: o.index,
        )
        for worker in workers:
            worker.join(timeout=30)
        billing = sandbox.billing()
        report(args, outcomes, outage_start - start_at, outage_end - start_at)
        incidents = sorted(store.list_incidents(limit=1000), key=lambda i: i.at)
        show_incidents(incidents, start_at)
        spend = show_budgets(store, billing, start_at)

        print("\nchecks:")
        answered = [o for o in outcomes if o.error is None]
        unclear = [o for o in outcomes if o.error is not None and o.error not in CLEAR_ERRORS]
        check(len(outcomes) == args.requests, f"{len(outcomes)} of {args.requests} requests ended")
        check(
            not unclear,
            f"every request answered ({len(answered)}) or refused with llmopt's error "
            f"({len(outcomes) - len(answered) - len(unclear)}); unclear: "
            + (", ".join(f"#{o.index} {o.error}: {o.message}" for o in unclear[:3]) or "none"),
        )
        billed = sum(b.requests_succeeded for b in billing.models.values())
        check(billed == len(answered), f"none answered twice: {billed} billed answers")
        check_circuit(check, args, outcomes, incidents, start_at, outage_start, outage_end)
        check_budgets(check, args, billing, spend)
        store.close()
    print("\nALL CHECKS PASSED" if not failed else f"\n{len(failed)} CHECK(S) FAILED")
    return 1 if failed else 0


def show_incidents(incidents: list[Any], start_at: float) -> None:
    print("\ncircuit incidents (seconds after the schedule's start):")
    for incident in incidents:
        if incident.kind != "failover":
            at = incident.at.timestamp() - start_at
            print(f"  {at:7.1f} s  {incident.entry_key:7} {incident.kind}: {incident.detail[:150]}")
    failovers = Counter(i.entry_key for i in incidents if i.kind == "failover")
    print(f"  failover incidents by failing entry: {dict(failovers)}")


def show_budgets(store: SQLiteStore, billing: Any, start_at: float) -> dict[str, Any]:
    stored = store.read_document(DocumentName.AI_CONFIG)
    assert stored is not None
    budgets = stored.body["budgets"]
    guard = BudgetGuard(store, BudgetSettings.load_list(budgets))
    spend = {s.name: s for s in guard.spend()}
    guard.close()
    print("\nbudgets:")
    for status in spend.values():
        limit = (
            f"${status.limit_usd:.2f}" if status.limit_usd else f"{status.limit_tokens:,} tokens"
        )
        print(
            f"  {status.name:10} ${status.usd:.4f}, {status.tokens:,} tokens of {limit} "
            f"({status.percent:.0f}%), at its limit: {status.at_limit}"
        )
    for alert in sorted(store.list_budget_alerts(), key=lambda a: a.at):
        at = alert.at.timestamp() - start_at
        print(f"  {at:7.1f} s  alert: {alert.budget} crossed {alert.threshold}%")
    print("  sandbox billed: " + ", ".join(
        f"{model} {b.requests_succeeded} answers, {b.input_tokens + b.output_tokens:,} tokens, "
        f"${float(b.cost_usd or 0):.4f}"
        for model, b in sorted(billing.models.items())
    ))  # fmt: skip
    return spend


def check_budgets(
    check: Any, args: argparse.Namespace, billing: Any, spend: dict[str, Any]
) -> None:
    models = billing.models
    claude = models.get(CLAUDE)
    claude_usd = float(claude.cost_usd or 0) if claude else 0.0
    tokens = sum(b.input_tokens + b.output_tokens for b in models.values())
    check(
        abs(spend["claude-day"].usd - claude_usd) < 1e-9,
        f"claude-day recorded ${spend['claude-day'].usd:.6f}; Claude billed ${claude_usd:.6f}",
    )
    check(
        spend["all-day"].tokens == tokens,
        f"all-day recorded {spend['all-day'].tokens:,} tokens; the sandbox billed {tokens:,}",
    )
    per_answer = claude_usd / max(1, claude.requests_succeeded) if claude else 0.0
    check(
        claude_usd <= args.claude_budget_usd + args.callers * per_answer,
        f"claude-day (route_cheaper) within its limit plus the calls in flight: "
        f"${claude_usd:.4f} <= ${args.claude_budget_usd:.2f} + {args.callers} x ${per_answer:.5f}",
    )
    answers = sum(b.requests_succeeded for b in models.values())
    largest = (
        max(
            (o.input_tokens + o.output_tokens) / max(1, o.requests_succeeded)
            for o in models.values()
        )
        * 2
    )  # a generous bound on one answer: twice the mean of the largest model
    check(
        tokens <= args.budget_tokens + args.callers * largest,
        f"all-day (refuse) within its limit plus the calls in flight: {tokens:,} tokens <= "
        f"{args.budget_tokens:,} + {args.callers} x {largest:.0f} ({answers} answers)",
    )


def check_circuit(
    check: Any,
    args: argparse.Namespace,
    outcomes: list[Outcome],
    incidents: list[Any],
    start_at: float,
    outage_start: float,
    outage_end: float,
) -> None:
    opened = [i for i in incidents if i.entry_key == "claude" and i.kind == "circuit_opened"]
    closed = [i for i in incidents if i.entry_key == "claude" and i.kind == "circuit_closed"]
    first_open = opened[0].at.timestamp() if opened else None
    check(
        first_open is not None and outage_start <= first_open,
        "Claude's circuit opened during the outage"
        + ("" if first_open is None else f", {first_open - outage_start:.1f} s after it began"),
    )
    if first_open is None:
        return
    # Claude's failures that the callers saw before every process had stopped calling it.
    failures_before = sum(
        1
        for o in outcomes
        for entry, outcome, _ in o.attempts
        if entry == "claude" and outcome == "failed" and o.started + start_at <= first_open + 1.0
    )
    ceiling = args.processes * FAILURE_THRESHOLD + args.callers
    check(
        failures_before <= ceiling,
        f"it opened within the configured failures: {failures_before} failed Claude calls "
        f"before it (and within the 1 s every process takes to see it) <= {args.processes} "
        f"processes x {FAILURE_THRESHOLD} + {args.callers} in flight",
    )
    after = [i.at.timestamp() for i in closed if i.at.timestamp() >= outage_end]
    allowed = args.cool_down + 3.0 + args.seconds / args.requests * args.processes
    check(
        bool(after) and after[0] - outage_end <= allowed,
        "it closed after the outage"
        + (
            f", {after[0] - outage_end:.1f} s after it ended (allowed {allowed:.1f} s)"
            if after
            else ""
        ),
    )


def report(
    args: argparse.Namespace, outcomes: list[Outcome], outage_start: float, outage_end: float
) -> None:
    phases: dict[str, Callable[[Outcome], bool]] = {
        "before the outage": lambda o: o.started < outage_start,
        "during the outage": lambda o: outage_start <= o.started < outage_end,
        "after the outage": lambda o: o.started >= outage_end,
    }
    print(
        f"{len(outcomes)} requests over {args.seconds:g} s from {args.callers} callers in "
        f"{args.processes} processes; Claude down from {outage_start:.0f} s to {outage_end:.0f} s"
    )
    for name, in_phase in phases.items():
        chosen = [o for o in outcomes if in_phase(o)]
        print(f"\n{name}: {len(chosen)} requests")
        served = Counter(o.entry or f"refused ({o.error})" for o in chosen)
        print("  served: " + ", ".join(f"{k} {v}" for k, v in served.most_common()))
        ok = [o.seconds for o in chosen if o.error is None]
        if ok:
            print(
                f"  answer time p50 {statistics.median(ok):.2f} s, "
                f"p95 {percentile(ok, 0.95):.2f} s, max {max(ok):.2f} s"
            )
        failed_over = [o for o in chosen if any(a[1] == "failed" for a in o.attempts)]
        skipped = sum(1 for o in chosen for a in o.attempts if a[1] == "skipped")
        print(
            f"  failed over: {len(failed_over)}; "
            f"entries skipped (circuit open or budget): {skipped}"
        )
        show_errors(o for o in chosen if o.error is not None)


def show_errors(errors: Iterable[Outcome]) -> None:
    seen: Counter[str] = Counter()
    sample: dict[str, str] = {}
    for o in errors:
        seen[o.error or ""] += 1
        sample.setdefault(o.error or "", o.message)
    for name, count in seen.most_common():
        print(f"  refused {count}x {name}, e.g. {sample[name][:160]}")


if __name__ == "__main__":
    sys.exit(main())
