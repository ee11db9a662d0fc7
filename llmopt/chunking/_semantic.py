"""Boundaries where the meaning of neighbouring sentences changes.

Written here rather than taken from a package because the ones that do this are bound
to their own model (WordLlama's ``wl.split()`` uses only WordLlama and returns text
without offsets; LangChain's experimental ``SemanticChunker`` lives in
``langchain-experimental``, a large package outside LangChain's stability promise) and
the method is a dozen lines: embed every sentence once with any LangChain
``Embeddings``, compare the mean vector of the ``window`` sentences before each gap with
the mean of the ``window`` after it, and cut at the gaps whose cosine similarity is in
the lowest ``percentile`` percent. Needs numpy (installed with ``llmopt[embeddings]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings


def meaning_breaks(
    texts: Sequence[str], embeddings: Embeddings, *, window: int = 2, percentile: float = 5.0
) -> set[int]:
    """Indexes ``i`` of the texts that begin a new topic (never 0)."""
    import numpy as np

    if len(texts) < 2:
        return set()
    batch = getattr(embeddings, "embed_batch", None)
    raw: Any = batch(list(texts)) if callable(batch) else embeddings.embed_documents(list(texts))
    vectors = np.asarray(raw, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    sums = np.vstack([np.zeros((1, vectors.shape[1]), np.float32), np.cumsum(vectors, axis=0)])
    n = len(texts)
    gaps = np.arange(1, n)  # a gap before text i
    left = sums[gaps] - sums[np.maximum(gaps - window, 0)]
    right = sums[np.minimum(gaps + window, n)] - sums[gaps]
    left_norm = np.linalg.norm(left, axis=1)
    right_norm = np.linalg.norm(right, axis=1)
    scale = np.where((left_norm > 0) & (right_norm > 0), left_norm * right_norm, 1.0)
    similarity = np.einsum("ij,ij->i", left, right) / scale
    if float(similarity.max() - similarity.min()) < 1e-6:  # no drop anywhere
        return set()
    cut = np.percentile(similarity, percentile)
    return {int(i) for i in gaps[similarity <= cut]}
