"""Retrieval speed at scale: search p50/p95, indexing rate and memory at 100,000 chunks.

    uv run python tests/benchmarks/bench_retrieval_speed.py [--chunks 100000] [--queries 200]

**Chunks** are synthetic: 60 words each, drawn with the word frequencies of Python's
documentation topics (so common words are common, as in real text, and BM25 has real
work to do). **Vectors** are random normal 256-dimension unit vectors, the shape
WordLlama gives: embedding 100,000 chunks with the real model is a cost of indexing,
not of searching, and is reported separately as WordLlama's own rate on a sample.
**Queries** are 2-6 words drawn the same way, embedded by the real WordLlama (so the
query's embedding time is inside the search figures).

The index is a ``SQLiteVectorIndex`` file in a temporary folder, written document by
document (100 chunks each) through ``replace_document`` — the incremental path — then
closed and reopened, as a service would find it. Figures: write rate, reopen time,
memory (the process's RSS before and after reopening), and per-mode search
latency through ``ContextRetriever.semantic_search(top_k=5)`` and ``retrieve_context``.
"""

from __future__ import annotations

import argparse
import gc
import re
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from pydoc_data.topics import topics

import numpy as np

from llmopt.embeddings import default_embeddings
from llmopt.retrieval import ContextRetriever, IndexedChunk, SQLiteVectorIndex

DIMENSIONS = 256
WORDS_PER_CHUNK = 60
CHUNKS_PER_DOCUMENT = 100


def word_sampler(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    counts = Counter(w.lower() for w in re.findall(r"[A-Za-z]+", " ".join(topics.values())))
    words = sorted(counts)
    weights = np.array([counts[w] for w in words], dtype=np.float64)
    return words, weights / weights.sum()


def percentiles(samples: list[float]) -> tuple[float, float]:
    return (float(np.percentile(samples, 50)) * 1000, float(np.percentile(samples, 95)) * 1000)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(17)
    words, p = word_sampler(rng)
    vocabulary = np.array(words)

    started = time.perf_counter()
    drawn = rng.choice(len(words), size=(args.chunks, WORDS_PER_CHUNK), p=p)
    texts = [" ".join(vocabulary[row]) for row in drawn]
    vectors = rng.standard_normal((args.chunks, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    print(f"generated {args.chunks:,} chunks in {time.perf_counter() - started:.1f} s")

    embeddings = default_embeddings()
    sample = texts[:5_000]
    t0 = time.perf_counter()
    embeddings.embed_batch(sample)
    rate = len(sample) / (time.perf_counter() - t0)
    print(f"WordLlama embedding rate (sample of {len(sample):,}): {rate:,.0f} chunks/s")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "retrieval-bench.sqlite3"
        index = SQLiteVectorIndex(path)
        t0 = time.perf_counter()
        for start in range(0, args.chunks, CHUNKS_PER_DOCUMENT):
            document_id = f"doc-{start // CHUNKS_PER_DOCUMENT:05d}"
            chunks = [
                IndexedChunk(
                    chunk_id=f"{document_id}#{n}",
                    document_id=document_id,
                    text=texts[start + n],
                    content_hash=f"{start + n:08d}",
                    metadata={"source": document_id, "start_index": n * 400},
                )
                for n in range(min(CHUNKS_PER_DOCUMENT, args.chunks - start))
            ]
            index.replace_document(document_id, chunks, vectors[start : start + len(chunks)])
        took = time.perf_counter() - t0
        index.close()
        size = path.stat().st_size + sum(f.stat().st_size for f in Path(folder).glob("*-wal"))
        print(
            f"indexed {args.chunks:,} chunks (store write: SQLite rows + vector blobs + BM25 "
            f"postings) in {took:.1f} s = {args.chunks / took:,.0f} chunks/s; "
            f"file {size / 1e6:.0f} MB"
        )
        del drawn

        # RSS rather than tracemalloc: tracing every allocation made the reopen 10x slower.
        gc.collect()
        rss_before = rss_mb()
        t0 = time.perf_counter()
        index = SQLiteVectorIndex(path)
        reopen = time.perf_counter() - t0
        gc.collect()
        print(
            f"reopened (vectors loaded, BM25 rebuilt from the text) in {reopen:.1f} s; "
            f"RSS {rss_before:.0f} -> {rss_mb():.0f} MB: the open index holds "
            f"{rss_mb() - rss_before:.0f} MB (max RSS of the run "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )

        retriever = ContextRetriever(index, embeddings=embeddings)
        queries = [
            " ".join(vocabulary[rng.choice(len(words), size=int(rng.integers(2, 7)), p=p)])
            for _ in range(args.queries)
        ]
        retriever.semantic_search(queries[0], 5)  # warm-up: first embedding, SQLite pages
        print(f"{'search (top_k=5)':<34} {'p50 ms':>7} {'p95 ms':>7}")
        for mode in ("lexical", "vector", "hybrid"):
            times = []
            for query in queries:
                t0 = time.perf_counter()
                retriever.semantic_search(query, 5, mode=mode)  # type: ignore[arg-type]
                times.append(time.perf_counter() - t0)
            p50, p95 = percentiles(times)
            print(f"{mode:<34} {p50:>7.1f} {p95:>7.1f}")
        times = []
        for query in queries:
            t0 = time.perf_counter()
            retriever.retrieve_context(query, max_tokens=2000, top_k=8)
            times.append(time.perf_counter() - t0)
        p50, p95 = percentiles(times)
        print(f"{'retrieve_context (hybrid, 2000 tok)':<34} {p50:>7.1f} {p95:>7.1f}")
        t0 = time.perf_counter()
        retriever.semantic_search(queries[0], 5, filters={"source": "doc-00042"})
        first = (time.perf_counter() - t0) * 1000
        times = []
        for n, query in enumerate(queries):
            t0 = time.perf_counter()
            retriever.semantic_search(query, 5, filters={"source": f"doc-{n % 1000:05d}"})
            times.append(time.perf_counter() - t0)
        p50, p95 = percentiles(times)
        print(f"{'hybrid, filtered by source':<34} {p50:>7.1f} {p95:>7.1f}")
        print(f"  (first filtered search, building the source lookup: {first:.0f} ms)")
        index.close()


if __name__ == "__main__":
    main()
