"""Reciprocal rank fusion: merging the lexical and the vector ranking."""

from __future__ import annotations

from collections.abc import Sequence

# Cormack, Clarke & Büttcher (2009): k = 60 damps the weight of the very first ranks so
# neither ranking dominates; it is the value every hybrid search engine ships.
RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], *, k: int = RRF_K
) -> list[tuple[str, float]]:
    """Fuse rankings of ids (best first) into one: ``sum(1 / (k + rank))`` per id.

    Use it to combine rankings whose scores are not comparable (BM25 and cosine). Ties
    are broken by id, so the result never depends on dict or hash order. Raises
    ``ValueError`` for ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
