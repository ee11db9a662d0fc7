"""What cache-friendly prompt assembly saves, measured by the sandbox's billing.

The workload: 50 questions to one support assistant, each prompt holding the same long
instructions (~1,800 tokens), 8 few-shot examples (~700 tokens) and a reference document
(~1,500 tokens), plus per-request bits (today's date, a request id, the user's plan).
It goes through ``get_generator_model("anthropic", entry)`` with prompt caching on
(cacheBreakpoints "auto", the entry followed live through a SQLite store, a fresh one
per run) against the sandbox, twice:

  naive        "Today is <date>. Request id <id>. Plan <plan>." opening the system
               prompt, then the instructions, the examples in a random order, the
               document; the question as the user turn
  engineered   PromptEngineer.build(question, context={date, request_id, plan},
               examples=<the same shuffled list>, documents=[document]): the stable
               parts in the system prompt in a canonical order, the volatile bits and
               the question in the user turn

Each run starts on an emptied sandbox (cache and billing) and a fresh model, so both
pay for their first write. Printed: billed input tokens (uncached), cache-write and
cache-read tokens, USD, and the engineered/naive ratio.

    uv run python tests/benchmarks/bench_prompt_assembly.py
    uv run python tests/benchmarks/bench_prompt_assembly.py --requests 200 --model claude-haiku-4-5
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from llmopt.killswitch import create_kill_switch
from llmopt.prompts import Example, PromptEngineer
from llmopt.sandbox import ModelBilling, SandboxServer, running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore
from llmopt.wrapper import (
    OptimizedLLMWrapper,
    get_generator_model,
    learning_for,
    recorder_for,
    watcher_for,
)

ENTRY_KEY = "bench-prompts"
PLANS = ("free", "team", "business", "enterprise")
TOPICS = ("billing", "export", "sso", "api", "invoices", "seats", "webhooks", "backups")


def sentence(n: int, topic: str) -> str:
    return (
        f"Rule {n}: when a customer asks about {topic}, check their plan first, quote the "
        f"relevant section of the handbook, and never promise a refund above the limit for "
        f"{topic} requests without an approval from the team lead on duty."
    )


INSTRUCTIONS = "\n".join(sentence(n, TOPICS[n % len(TOPICS)]) for n in range(45))
EXAMPLES = [
    Example(
        f"A customer on the {PLANS[n % 4]} plan asks how {TOPICS[n]} works and what it costs.",
        f"Explain {TOPICS[n]} in two sentences, quote section {n + 1} of the handbook, state "
        f"the {PLANS[n % 4]} plan's limit for it, and offer to open a ticket if the customer "
        "needs more than the plan allows. " * 2,
    )
    for n in range(8)
]
DOCUMENT = "\n".join(
    f"Section {n + 1} ({TOPICS[n % len(TOPICS)]}): the {PLANS[n % 4]} plan includes "
    f"{(n + 1) * 5} units a month; extra units cost {n + 2} USD each; changes take effect at "
    "the start of the next billing period and are confirmed by email to the account owner."
    for n in range(40)
)


def questions(count: int) -> list[tuple[str, dict[str, str]]]:
    rng = random.Random(42)
    start = date(2026, 3, 2)
    asked = []
    for n in range(count):
        topic = rng.choice(TOPICS)
        context = {
            "date": (start + timedelta(days=n // 10)).isoformat(),
            "request_id": f"req-{rng.randrange(16**8):08x}",
            "plan": rng.choice(PLANS),
        }
        asked.append((f"How do I change my {topic} settings, and what will it cost?", context))
    return asked


Assembly = Callable[[str, dict[str, str], list[Example]], list[BaseMessage]]


def naive(question: str, context: dict[str, str], examples: list[Example]) -> list[BaseMessage]:
    shown = "\n\n".join(f"Q: {e.input}\nA: {e.output}" for e in examples)
    opening = (
        f"Today is {context['date']}. Request id {context['request_id']}. "
        f"The customer is on the {context['plan']} plan."
    )
    system = f"{opening}\n\n{INSTRUCTIONS}\n\nExamples:\n\n{shown}\n\nHandbook:\n\n{DOCUMENT}"
    return [SystemMessage(system), HumanMessage(question)]


def engineered(model: str) -> Assembly:
    engineer = PromptEngineer(instructions=INSTRUCTIONS, model=model)

    def assemble(
        question: str, context: dict[str, str], examples: list[Example]
    ) -> list[BaseMessage]:
        prompt = engineer.build(
            question, task="chat", context=context, examples=examples, documents=[DOCUMENT]
        )
        return prompt.messages

    return assemble


def seeded_store(path: Path, model: str) -> SQLiteStore:
    store = SQLiteStore(path)
    entry = {
        "provider": "anthropic",
        "modelKey": ENTRY_KEY,
        "configuration": {"model": model, "optimizationEnabled": True, "cachingEnabled": True},
    }
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [entry]},
        expected_revision=None,
        audit=AuditEvent(actor="bench", action="seed", target="aiconfigs"),
    )
    create_kill_switch(store, actor="bench")  # released: the flags mean what they say
    return store


def run(sandbox: SandboxServer, model: str, assemble: Assembly, count: int) -> ModelBilling:
    # A fresh store each: the planner's learning is shared through it, and one run's
    # lessons (naive system prompts never recur) must not shape the other's first calls.
    sandbox.reset()
    with tempfile.TemporaryDirectory() as directory:
        store = seeded_store(Path(directory) / "store.sqlite3", model)
        try:
            return _send(sandbox, store, model, assemble, count)
        finally:
            # The wrapper's background threads read and write the store: stop them first.
            recorder_for(store).stop()
            learning_for(store).stop()
            watcher_for(store).stop()
            store.close()


def _send(
    sandbox: SandboxServer, store: SQLiteStore, model: str, assemble: Assembly, count: int
) -> ModelBilling:
    chat = get_generator_model(
        "anthropic",
        {
            "provider": "anthropic",
            "modelKey": ENTRY_KEY,
            "configuration": {
                "model": model,
                "apiKey": sandbox.api_key,
                "baseUrl": sandbox.base_url,
                "maxTokens": 100,
                "optimizationEnabled": True,
                "cachingEnabled": True,
            },
        },
        store=store,
        entry_key=ENTRY_KEY,
    )
    assert isinstance(chat, OptimizedLLMWrapper) and chat.watcher is not None
    # Until its watcher has read the store, a wrapper behaves as the bare model.
    ready = chat.watcher.wait_for(
        lambda s: s.available and not s.kill_switch_engaged and bool(s.entries.get(ENTRY_KEY)),
        timeout=30,
    )
    assert ready, f"the wrapper never read the flags: {chat.watcher.snapshot.problem}"
    rng = random.Random(7)
    for question, context in questions(count):
        examples = EXAMPLES[:]
        rng.shuffle(examples)  # as a retriever or a dict of examples might hand them over
        chat.invoke(assemble(question, context, examples))
    billed = sandbox.billing().total
    assert billed.requests_errored == 0 and billed.requests_succeeded == count
    return billed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="questions to send (50)")
    parser.add_argument("--model", default="claude-sonnet-4-6", help="claude-sonnet-4-6")
    args = parser.parse_args()
    stable = PromptEngineer(instructions=INSTRUCTIONS, model=args.model).build(
        "q", task="chat", examples=EXAMPLES, documents=[DOCUMENT]
    )
    print(
        f"{args.requests} requests to {args.model}; stable part ~{stable.stable_tokens:,} "
        f"tokens, over the model's cache minimum: {stable.prefix_cacheable}"
    )
    with running_sandbox() as sandbox:
        results = {
            "naive": run(sandbox, args.model, naive, args.requests),
            "engineered": run(sandbox, args.model, engineered(args.model), args.requests),
        }
    print(f"{'':24s}{'naive':>14s}{'engineered':>14s}{'ratio':>8s}")
    rows: list[tuple[str, Callable[[ModelBilling], int | Decimal]]] = [
        ("input tokens (uncached)", lambda b: b.input_tokens),
        ("cache-write tokens", lambda b: b.cache_write_5m_tokens + b.cache_write_1h_tokens),
        ("cache-read tokens", lambda b: b.cache_read_tokens),
        ("output tokens", lambda b: b.output_tokens),
    ]
    for label, value in rows:
        before, after = value(results["naive"]), value(results["engineered"])
        ratio = f"{after / before:8.3f}" if before else f"{'-':>8s}"
        print(f"{label:24s}{before:>14,}{after:>14,}{ratio}")
    cost_before, cost_after = results["naive"].cost_usd, results["engineered"].cost_usd
    assert cost_before is not None and cost_after is not None
    print(
        f"{'USD':24s}{'$' + format(cost_before, '.4f'):>14s}"
        f"{'$' + format(cost_after, '.4f'):>14s}{cost_after / cost_before:8.3f}"
    )
    print(f"saving: {1 - cost_after / cost_before:.1%} of the naive assembly's bill")


if __name__ == "__main__":
    main()
