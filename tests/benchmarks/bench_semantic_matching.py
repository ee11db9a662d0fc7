"""How often semantic matching would serve a wrong answer, and what it costs per lookup.

    uv run python tests/benchmarks/bench_semantic_matching.py

Reads the labelled pairs of ``semantic_pairs/pairs.jsonl`` (built from real text by
``semantic_pairs/build_pairs.py``; see its rules), embeds both sides with the offline
default (WordLlama, ``llmopt.embeddings.default_embeddings``) and prints, for every
threshold from 0.70 to 0.99, the precision and recall of "match" for the embedding
alone and for the embedding with the lexical guard (``llmopt.responses._guard``), the
rate at which each near-miss kind is wrongly matched, and the recommended default: the
highest recall whose precision is at least 0.99, ties going to the higher threshold
(safer for differences the guard does not look at, such as a changed lower-case noun),
or the trade-off when none reaches it. Figures for all pairs, then for the ``test``
half alone (the guard was written before the pairs existed and was not adjusted to
them). Then the time of one lookup comparison (embed the question, one dot product,
the guard).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import timeit
from collections import Counter
from pathlib import Path
from types import ModuleType

import numpy as np

from llmopt.embeddings import default_embeddings

PAIRS = Path(__file__).resolve().parent / "semantic_pairs" / "pairs.jsonl"
THRESHOLDS = [round(0.70 + 0.01 * i, 2) for i in range(30)]
TARGET_PRECISION = 0.99
NEAR_MISSES = ("number", "negation", "entity", "unrelated")


def _guard_module() -> ModuleType:
    """``llmopt.responses._guard``, even if the package's ``__init__`` cannot load."""
    try:
        import llmopt.responses._guard as guard

        return guard
    except ImportError:
        path = Path(__file__).resolve().parents[2] / "llmopt" / "responses" / "_guard.py"
        spec = importlib.util.spec_from_file_location("_guard", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["_guard"] = module
        spec.loader.exec_module(module)
        return module


def _curve(
    rows: list[dict[str, str]], similarity: np.ndarray, passes: np.ndarray, title: str
) -> float | None:
    is_match = np.array([r["label"] == "match" for r in rows])
    kinds = np.array([r["kind"] for r in rows])
    counts = Counter(kinds.tolist())
    print(f"\n{title}: {len(rows)} pairs {dict(sorted(counts.items()))}")
    print(
        f"{'thr':>5} | {'embedding only':^15} | {'embedding + guard':^17} | "
        + " ".join(f"{k[:8]:>8}" for k in NEAR_MISSES)
        + "  (false-match rate, with guard)"
    )
    print(f"{'':>5} | {'prec':>7} {'recall':>7} | {'prec':>8} {'recall':>8} |")
    best: float | None = None
    best_recall = -1.0
    for threshold in THRESHOLDS:
        alone = similarity >= threshold
        guarded = alone & passes
        cells = []
        for predicted in (alone, guarded):
            hits = int((predicted & is_match).sum())
            precision = hits / int(predicted.sum()) if predicted.any() else 1.0
            cells.append((precision, hits / int(is_match.sum())))
        rates = [
            float(guarded[kinds == kind].mean()) if (kinds == kind).any() else 0.0
            for kind in NEAR_MISSES
        ]
        print(
            f"{threshold:5.2f} | {cells[0][0]:7.3f} {cells[0][1]:7.3f} | "
            f"{cells[1][0]:8.3f} {cells[1][1]:8.3f} | " + " ".join(f"{r:8.3f}" for r in rates)
        )
        if cells[1][0] >= TARGET_PRECISION and cells[1][1] >= best_recall:
            best, best_recall = threshold, cells[1][1]
    return best


def main() -> None:
    guard = _guard_module()
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    embeddings = default_embeddings()
    a = embeddings.embed_batch([r["a"] for r in rows])
    b = embeddings.embed_batch([r["b"] for r in rows])
    similarity = np.einsum("ij,ij->i", a, b)
    reasons = [guard.mismatch(r["a"], r["b"]) for r in rows]
    passes = np.array([reason is None for reason in reasons])

    best = _curve(rows, similarity, passes, "All pairs")
    test = np.array([r["split"] == "test" for r in rows])
    test_rows = [r for r, t in zip(rows, test, strict=True) if t]
    _curve(test_rows, similarity[test], passes[test], "Test half only")

    is_match = np.array([r["label"] == "match" for r in rows])
    refused = [
        (r, why) for r, why in zip(rows, reasons, strict=True) if why and r["label"] == "match"
    ]
    missed = Counter(r["kind"] for r, why in zip(rows, reasons, strict=True) if not why)
    print(
        f"\nGuard: refuses {len(refused)} of {int(is_match.sum())} paraphrases; lets through "
        + ", ".join(f"{missed[k]} {k}" for k in NEAR_MISSES)
        + " near-misses (at any similarity)"
    )
    for row, why in refused[:8]:
        print(f"  refused paraphrase ({why}): {row['a']!r} / {row['b']!r}")

    current = guard.DEFAULT_SIMILARITY_THRESHOLD
    print(f"\nDEFAULT_SIMILARITY_THRESHOLD in llmopt/responses/_guard.py: {current}")
    if best is None:
        print(f"No threshold reaches precision {TARGET_PRECISION} with the guard: trade-off above.")
    else:
        print(f"Recommended default (highest recall with precision >= {TARGET_PRECISION}): {best}")

    question = "How do I get the sample variance of data in Python 3.11?"
    stored = "What is the way to get the sample variance of data in Python 3.11?"
    stored_vector = embeddings.embed_batch([stored])[0]
    guard.mismatch(question, stored)

    def lookup() -> bool:
        vector = embeddings.embed_batch([question])[0]
        return float(vector @ stored_vector) >= current and guard.mismatch(question, stored) is None

    def uncached_guard() -> object:
        guard._analyse.cache_clear()
        return guard.mismatch(question, stored)

    runs = 2000
    print("\nOne lookup comparison (best of 5 x 2000):")
    for name, call in (
        ("embed the question (WordLlama)", lambda: embeddings.embed_batch([question])),
        ("guard, both texts' analyses cached", lambda: guard.mismatch(question, stored)),
        ("guard, nothing cached (both texts analysed)", uncached_guard),
        ("embed + dot + guard (analyses cached)", lookup),
    ):
        best_time = min(timeit.repeat(call, number=runs, repeat=5)) / runs
        print(f"  {name:45} {best_time * 1e6:7.1f} µs")


if __name__ == "__main__":
    main()
