"""What stable context order saves on a RAG workload, billed by the sandbox.

    uv run python tests/benchmarks/bench_rag_cost.py [--max-tokens 2500] [--top-k 8]

**Setup.** Python's documentation topics (``bench_retrieval_corpus.py``) indexed by
``ContextRetriever`` (WordLlama vectors, paragraph chunks of at most 256 tokens). Every
question is answered by ``OptimizedLLMWrapper`` (prompt caching on) over a
``ChatAnthropic`` claude-sonnet-4-6 pointed at llmopt's sandbox, with the retrieved
context in the system message and the question in the user message. The same
questions run twice, on a fresh sandbox and a fresh wrapper each time: once with the
context in stable order (source, then offset), once in relevance order. The bill is
the sandbox's (list prices, cache writes at 1.25x, reads at 0.1x of input).

**Workloads.**

* ``open``: the collection's 106 heading questions (see ``bench_retrieval_corpus``),
  each asked three ways in a row, as users rephrase ("{h}", "What does the
  documentation say about {h}?", "Explain {h} with an example"); ``top_k`` chunks
  from the whole collection within ``max_tokens``. Rephrasings often retrieve the same
  chunks in another relevance order, sometimes another set; only a byte-identical
  prefix is a cache hit.
* ``per-topic``: "chat with one document": every topic whose chunks total between
  1,100 and ``max_tokens`` tokens (above the model's 1,024-token cache minimum,
  within the budget), asked each of its section headings with ``filters={"topic": t}``
  and a ``top_k`` of 50: every question retrieves the whole topic, ranked differently.
  This is the case stable order is made for, so it shows the ceiling of the saving.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bench_retrieval_corpus import questions, sections
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.chunking import SemanticChunker
from llmopt.retrieval import ContextRetriever
from llmopt.sandbox import running_sandbox
from llmopt.wrapper import OptimizedLLMWrapper

MODEL = "claude-sonnet-4-6"
INSTRUCTIONS = "Answer the question from the documentation excerpts below only.\n\n"
PHRASINGS = (
    "{h}",
    "What does the documentation say about {h}?",
    "Explain {h} with an example",
)

Ask = tuple[str, dict[str, Any] | None, int]  # question, filters, top_k


def run(
    retriever: ContextRetriever, asks: Sequence[Ask], order: str, max_tokens: int
) -> dict[str, Any]:
    contexts = set()
    with running_sandbox() as sandbox:
        base = ChatAnthropic(  # type: ignore[call-arg]
            model=MODEL,
            base_url=sandbox.base_url,
            api_key=sandbox.api_key,
            max_tokens=64,
            max_retries=0,
        )
        model = OptimizedLLMWrapper(
            base, "anthropic", {"optimizationEnabled": True, "cachingEnabled": True}
        )
        for question, filters, top_k in asks:
            context = retriever.retrieve_context(
                question,
                max_tokens=max_tokens,
                top_k=top_k,
                filters=filters,
                order=order,  # type: ignore[arg-type]
            )
            contexts.add(context.text)
            model.invoke([SystemMessage(INSTRUCTIONS + context.text), HumanMessage(question)])
        billed = sandbox.billing().total
    return {
        "cost": billed.cost_usd or Decimal(0),
        "read": billed.cache_read_tokens,
        "written": billed.cache_write_5m_tokens + billed.cache_write_1h_tokens,
        "uncached": billed.input_tokens,
        "distinct": len(contexts),
    }


def report(name: str, retriever: ContextRetriever, asks: Sequence[Ask], max_tokens: int) -> None:
    print(f"\n{name}: {len(asks)} calls")
    print(
        f"{'order':<10} {'cost USD':>10} {'cache read':>11} {'cache write':>12} "
        f"{'uncached in':>12} {'distinct contexts':>18}"
    )
    results = {}
    for order in ("relevance", "stable"):
        r = results[order] = run(retriever, asks, order, max_tokens)
        print(
            f"{order:<10} {r['cost']:>10.4f} {r['read']:>11,} {r['written']:>12,} "
            f"{r['uncached']:>12,} {r['distinct']:>18}"
        )
    saved = results["relevance"]["cost"] - results["stable"]["cost"]
    share = saved / results["relevance"]["cost"] * 100 if results["relevance"]["cost"] else 0
    print(f"stable order saves ${saved:.4f} ({share:.1f} %) against relevance order")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=2500)
    parser.add_argument("--top-k", type=int, default=8)
    args = parser.parse_args()

    all_sections = sections()
    retriever = ContextRetriever(
        ":memory:", chunker=SemanticChunker("paragraphs", max_tokens=256), model=MODEL
    )
    retriever.embed_and_index(s.as_document() for s in all_sections)

    open_asks: list[Ask] = [
        (phrasing.format(h=heading), None, args.top_k)
        for heading, _ in questions(all_sections)
        for phrasing in PHRASINGS
    ]
    report("open", retriever, open_asks, args.max_tokens)

    tokens: dict[str, int] = defaultdict(int)
    headings: dict[str, list[str]] = defaultdict(list)
    for document_id in retriever.index.document_ids():
        for chunk in retriever.index.chunks_of(document_id):
            tokens[str(chunk.metadata["topic"])] += int(chunk.metadata["token_count"]) + 8
    for s in all_sections:
        headings[s.topic].append(s.heading)
    topic_asks: list[Ask] = [
        (heading, {"topic": topic}, 50)
        for topic in sorted(tokens)
        if 1_100 <= tokens[topic] <= args.max_tokens - 200
        for heading in headings[topic]
    ]
    topics_used = len({f["topic"] for _, f, _ in topic_asks if f})
    print(f"\n({topics_used} topics fit the per-topic workload)")
    report("per-topic", retriever, topic_asks, args.max_tokens)


if __name__ == "__main__":
    main()
