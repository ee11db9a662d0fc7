"""Chunking throughput: MB of text per second per strategy, on Python's own docs.

The text is every topic of ``pydoc_data.topics`` (the documentation ``help()`` shows,
shipped with Python), joined by blank lines: real prose, grammar and code, about
0.5 MB. Run: ``uv run python tests/benchmarks/bench_chunking.py``.
"""

from __future__ import annotations

import statistics
import time
from pydoc_data.topics import topics

from llmopt.chunking import STRATEGIES, SemanticChunker

TEXT = "\n\n".join(topics[name] for name in sorted(topics))
MB = len(TEXT.encode()) / 1_000_000


def main() -> None:
    print(f"{len(topics)} topics, {MB:.2f} MB, {len(TEXT):,} characters")
    print(f"{'strategy':<12} {'max_tokens':>10} {'chunks':>7} {'seconds':>8} {'MB/s':>7}")
    for max_tokens in (128, 512):
        for strategy in STRATEGIES:
            overlap = max_tokens // 8 if strategy == "window" else 0
            chunker = SemanticChunker(strategy, max_tokens=max_tokens, overlap_tokens=overlap)
            chunker.split_text("warm up. Load the model.")
            times = []
            for _ in range(3):
                start = time.perf_counter()
                chunks = chunker.split_text(TEXT)
                times.append(time.perf_counter() - start)
            best = min(times)
            print(
                f"{strategy:<12} {max_tokens:>10} {len(chunks):>7} {best:>8.2f} "
                f"{MB / best:>7.2f}   (median {statistics.median(times):.2f} s)"
            )


if __name__ == "__main__":
    main()
