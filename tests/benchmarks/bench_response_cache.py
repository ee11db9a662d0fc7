"""Response cache lookups with 100,000 stored answers: exact and semantic, per backend.

    uv run python tests/benchmarks/bench_response_cache.py [--answers 100000] [--lookups 2000]
        [--redis redis://...]

Fills a backend with ``--answers`` answers to distinct questions (all in one entry and
one context, the worst case for the semantic search: every vector is compared), then
times :meth:`LLMCacheLayer.lookup`: exact hits, semantic lookups (a reworded stored
question: embedding, search, backend read, guard) and misses. The embedding model is
``llmopt[embeddings]``'s default. The issue's target: p95 at most 10 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.embeddings import default_embeddings
from llmopt.responses import (
    LLMCacheLayer,
    ResponseCacheSettings,
    SQLiteResponses,
    StoredAnswer,
    canonical_request,
)
from llmopt.responses._index import unit_vector

SUBJECTS = ["invoice", "refund", "password", "order", "account", "subscription", "delivery"]
ACTIONS = ["cancel", "change", "find", "reset", "track", "renew", "close", "update"]
PLACES = ["Paris", "Berlin", "Tokyo", "Lima", "Oslo", "Cairo", "Austin", "Perth"]


def question(number: int) -> str:
    rng = random.Random(number)
    return (
        f"How can I {rng.choice(ACTIONS)} my {rng.choice(SUBJECTS)} number {number} "
        f"from the {rng.choice(PLACES)} office?"
    )


def reworded(number: int) -> str:
    rng = random.Random(number)
    action, subject, place = rng.choice(ACTIONS), rng.choice(SUBJECTS), rng.choice(PLACES)
    return f"From the {place} office, how can I {action} my {subject} number {number}?"


def request(text: str) -> Any:
    return canonical_request(
        [SystemMessage("You are the support desk."), HumanMessage(text)],
        provider="anthropic",
        model="claude-haiku-4-5",
    )


def fill(layer: LLMCacheLayer, count: int, embeddings: Any) -> None:
    now = time.time()
    batch = 2000
    for start in range(0, count, batch):
        numbers = range(start, min(count, start + batch))
        texts = [question(n) for n in numbers]
        vectors = embeddings.embed_documents(texts)
        for text, vector in zip(texts, vectors, strict=True):
            made = request(text)
            layer.backend.put(
                StoredAnswer(
                    key=made.key,
                    entry_key="support",
                    model="claude-haiku-4-5",
                    context_key=made.context_key,
                    question=text,
                    answer='{"type": "ai", "data": {"content": "See the help page."}}',
                    created_at=now,
                    expires_at=now + 86_400,
                    cost_usd=0.0004,
                    vector=unit_vector(vector).tobytes(),
                )
            )


def timed(
    layer: LLMCacheLayer, texts: list[str], settings: ResponseCacheSettings
) -> tuple[list[float], int]:
    times, hits = [], 0
    for text in texts:
        made = request(text)
        start = time.perf_counter()
        found = layer.lookup(made, entry_key="support", settings=settings)
        times.append((time.perf_counter() - start) * 1000)
        hits += found.hit is not None
    return times, hits


def show(name: str, times: list[float], hits: int) -> None:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(
        f"  {name:22} p50 {statistics.median(ordered):6.2f} ms  p95 {p95:6.2f} ms  "
        f"max {ordered[-1]:6.2f} ms  hits {hits}/{len(times)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--redis", help="a redis:// URL to measure the shared backend too")
    args = parser.parse_args()
    embeddings = default_embeddings()
    semantic = ResponseCacheSettings.from_dict({"enabled": True, "semantic": True})
    exact = ResponseCacheSettings.from_dict({"enabled": True})
    rng = random.Random(7)
    picks = [rng.randrange(args.answers) for _ in range(args.lookups)]
    with tempfile.TemporaryDirectory() as folder:
        backends: list[tuple[str, Any]] = [("sqlite", SQLiteResponses(Path(folder) / "a.sqlite3"))]
        if args.redis:
            from llmopt.responses._redis import RedisResponses

            backends.append(("redis", RedisResponses(args.redis)))
        for name, backend in backends:
            layer = LLMCacheLayer(backend, embeddings=embeddings)
            started = time.perf_counter()
            fill(layer, args.answers, embeddings)
            print(
                f"{name}: {args.answers:,} answers stored in "
                f"{time.perf_counter() - started:.1f} s (embedding included)"
            )
            layer.lookup(request(reworded(0)), entry_key="support", settings=semantic)  # load
            show("exact hit", *timed(layer, [question(n) for n in picks], exact))
            show("semantic (reworded)", *timed(layer, [reworded(n) for n in picks], semantic))
            misses = [f"Where is the nearest museum to office number {n}?" for n in picks]
            show("semantic miss", *timed(layer, misses, semantic))
            layer.close()
            backend.invalidate()
            backend.close()


if __name__ == "__main__":
    main()
