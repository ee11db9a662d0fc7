"""Retrieval quality on Python's own documentation: recall@5 and MRR per search mode.

    uv run python tests/benchmarks/bench_retrieval_quality.py [--max-tokens 256]

**Collection.** ``pydoc_data.topics.topics`` (the text of ``help("topics")``, shipped
with CPython: 78 distinct topics, 0.47 MB), cut at its reST headings into sections
(``bench_retrieval_corpus.py``). Each section is indexed *without its heading line* as one
document, chunked by ``SemanticChunker("paragraphs", max_tokens=...)`` and embedded by
the default offline WordLlama model.

**Questions**, built from the collection the same way every run: each heading of two
or more words that names a single section (e.g. "Augmented assignment statements",
"Coroutine function definition"). The heading was removed from the indexed text, so
the question is never found verbatim; its words may of course occur in the body, as a
real user's words would. A topic's title counts every section of that topic as
relevant; a subsection heading only its own section.

**Figures.** recall@5: the share of questions with a relevant chunk among the first 5;
MRR: the mean of 1/rank of the first relevant chunk within the first 10 (0 if none).
"""

from __future__ import annotations

import argparse
import time

from bench_retrieval_corpus import questions, sections

from llmopt.chunking import SemanticChunker
from llmopt.retrieval import ContextRetriever

MODES = ("lexical", "vector", "hybrid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()

    all_sections = sections()
    asked = questions(all_sections)
    retriever = ContextRetriever(
        ":memory:", chunker=SemanticChunker("paragraphs", max_tokens=args.max_tokens)
    )
    started = time.perf_counter()
    retriever.embed_and_index(s.as_document() for s in all_sections)
    took = time.perf_counter() - started
    print(
        f"indexed {len(all_sections)} sections as {retriever.index.count()} chunks "
        f"({args.max_tokens} tokens max) in {took:.1f} s; {len(asked)} questions"
    )
    print(f"{'mode':<8} {'recall@5':>9} {'MRR@10':>7} {'search p50 ms':>14}")
    for mode in MODES:
        found_in_5 = 0
        reciprocal = 0.0
        times = []
        for question, relevant in asked:
            t0 = time.perf_counter()
            hits = retriever.semantic_search(question, 10, mode=mode)
            times.append(time.perf_counter() - t0)
            ranks = [n for n, hit in enumerate(hits, 1) if hit.chunk.source in relevant]
            if ranks and ranks[0] <= 5:
                found_in_5 += 1
            if ranks:
                reciprocal += 1 / ranks[0]
        times.sort()
        print(
            f"{mode:<8} {found_in_5 / len(asked):>9.3f} {reciprocal / len(asked):>7.3f} "
            f"{times[len(times) // 2] * 1000:>14.1f}"
        )


if __name__ == "__main__":
    main()
