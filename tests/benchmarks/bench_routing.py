"""How long a routing decision takes, with N entries (default 20), in microseconds.

    uv run python tests/benchmarks/bench_routing.py [--entries 20] [--requests 20000]

Prints p50/p99/max of ``LLMRouter.route`` alone and of ``profile_request`` + ``route``
(what a routed call adds before it calls a model), over requests of mixed kinds (code,
chat, extraction, private, tools, a long document), with rules, a cost ceiling and
observed performance for every entry. The issue's target: p99 under 1 ms with 20 entries.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from langchain_core.messages import HumanMessage

from llmopt.config import AIConfigDocument
from llmopt.routing import (
    LLMRouter,
    PerformanceBook,
    RoutingSettings,
    candidates_of,
    profile_request,
)

MODELS = [
    ("anthropic", "claude-sonnet-4-6"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-opus-4-6"),
    ("openAI", "gpt-5.4"),
    ("openAI", "gpt-5.4-mini"),
    ("openAI", "gpt-5.4-nano"),
    ("openAI", "gpt-4.1-mini"),
    ("ollama", "llama3.1:8b"),
    ("ollama", "qwen3:8b"),
    ("ollama", "mistral:7b"),
]
TASKS = [["code"], ["reasoning"], ["chat"], ["extraction"], []]


def entries(count: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    made = []
    for i in range(count):
        provider, model = MODELS[i % len(MODELS)]
        made.append(
            {
                "provider": provider,
                "modelKey": f"e{i}",
                "configuration": {
                    "model": model,
                    "routing": {"tasks": rng.choice(TASKS), "quality": round(rng.random(), 2)},
                },
            }
        )
    return made


REQUESTS = [
    ("Write a Python function that merges two sorted lists", {}),
    ("Hello! How was your weekend?", {}),
    ("Extract every invoice number from the text below. " + "lorem ipsum " * 200, {}),
    ("Summarise my patient record", {"privacy": "local"}),
    ("What is the weather in Paris?", {"tools": [{"name": "weather"}]}),
    ("Explain why the sky is blue, step by step", {}),
    ("Read this contract. " + "clause " * 20_000, {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    document = AIConfigDocument({"llm": entries(args.entries)}, "r1")
    candidates, _ = candidates_of(document)
    keys = [c.key for c in candidates]
    settings = RoutingSettings.from_dict(
        {
            "enabled": True,
            "rules": [
                {"name": "private", "when": {"privacy": "local"}, "prefer": [keys[7]]},
                {"name": "code", "when": {"task": "code"}, "prefer": [keys[0]], "maxCostUsd": 0.5},
                {"name": "cheap extraction", "when": {"task": "extraction"}, "optimize": "cost"},
            ],
        },
        entry_keys=keys,
    )
    book = PerformanceBook()
    rng = random.Random(2)
    for key in keys:
        for _ in range(50):
            book.record(
                key, latency_ms=rng.lognormvariate(6, 0.5), ok=rng.random() > 0.05, cost_usd=0.001
            )
    router = LLMRouter(candidates, settings, performance=book)
    prepared = [
        (
            [HumanMessage(text)],
            {"tools": extra["tools"]} if "tools" in extra else {},
            extra.get("privacy"),
        )
        for text, extra in REQUESTS
    ]
    profiles = [profile_request(m, kw, privacy=p) for m, kw, p in prepared]

    route_only: list[float] = []
    whole: list[float] = []
    for i in range(args.requests):
        messages, kwargs, privacy = prepared[i % len(prepared)]
        profile = profiles[i % len(profiles)]
        start = time.perf_counter()
        router.route(profile)
        route_only.append(time.perf_counter() - start)
        start = time.perf_counter()
        router.route(profile_request(messages, kwargs, privacy=privacy))
        whole.append(time.perf_counter() - start)
    print(f"routing decisions with {len(candidates)} entries, {args.requests:,} requests")
    for name, times in (("route()", route_only), ("profile + route()", whole)):
        times.sort()
        p50 = times[len(times) // 2] * 1e6
        p99 = times[int(len(times) * 0.99)] * 1e6
        print(f"  {name:<18} p50 {p50:7.1f} µs   p99 {p99:7.1f} µs   max {times[-1] * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
