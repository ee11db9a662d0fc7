"""The in-memory vector index a process searches for semantic matches.

Vectors are kept per group (an entry and a request context: see
:attr:`~llmopt.responses._request.CanonicalRequest.context_key`), so a question is only
ever compared with questions asked in the same conversation, of the same entry, with
the same tools and parameters. Removal leaves a zero row (a tombstone that never
matches).

A search reads every row of its group, so its time is the group's bytes over the
memory bandwidth: 100,000 float32 vectors of 256 dimensions are 100 MB, about 16 ms on
this project's 2-core machine. So each vector is also kept projected onto
``COARSE_DIMENSIONS`` random directions (a fixed, seeded Gaussian projection keeps
cosines close for any embedding model, unlike cutting dimensions off, which only suits
models trained for it): the search reads that coarse matrix (a quarter of the bytes),
takes its ``CANDIDATES`` best rows, and ranks those by their full vectors, kept as
float16. Groups smaller than ``CANDIDATES`` rows are searched exactly.

The index is a cache of the backend: every match is checked there before it is served,
so a stale row costs a lookup, never a wrong answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_INITIAL_ROWS = 64
COARSE_DIMENSIONS = 64
CANDIDATES = 64


def _projection(dim: int) -> Any:
    rng = np.random.default_rng(dim)  # the same directions in every process
    return rng.standard_normal((dim, COARSE_DIMENSIONS)).astype(np.float32)


@dataclass
class _Group:
    dim: int
    keys: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    full: Any = None  # float16 [capacity, dim]: the vectors, for the final ranking
    coarse: Any = None  # float32 [capacity, COARSE_DIMENSIONS]: the projection searched
    projection: Any = None

    def add(self, key: str, vector: Any) -> None:
        if self.projection is None:
            self.projection = _projection(self.dim)
        row = self.rows.get(key)
        if row is None:
            row = len(self.keys)
            if self.full is None or row >= len(self.full):
                capacity = max(_INITIAL_ROWS, row * 2)
                self.full = _grown(self.full, row, capacity, self.dim, np.float16)
                self.coarse = _grown(self.coarse, row, capacity, COARSE_DIMENSIONS, np.float32)
            self.keys.append(key)
            self.rows[key] = row
        self.full[row] = vector
        self.coarse[row] = _unit(vector @ self.projection)

    def remove(self, key: str) -> None:
        row = self.rows.get(key)
        if row is not None:
            self.full[row] = 0.0
            self.coarse[row] = 0.0

    def best(self, query: Any, count: int) -> list[tuple[str, float]]:
        size = len(self.keys)
        if size == 0:
            return []
        if size <= CANDIDATES:
            rows = np.arange(size)
        else:
            rough = self.coarse[:size] @ _unit(query @ self.projection)
            rows = np.argpartition(-rough, CANDIDATES - 1)[:CANDIDATES]
        scores = self.full[rows].astype(np.float32) @ query
        order = np.argsort(-scores)[:count]
        return [(self.keys[rows[i]], float(scores[i])) for i in order]


def _grown(matrix: Any, used: int, capacity: int, width: int, dtype: Any) -> Any:
    grown = np.zeros((capacity, width), dtype=dtype)
    if matrix is not None:
        grown[:used] = matrix[:used]
    return grown


def _unit(vector: Any) -> Any:
    norm = float(np.linalg.norm(vector))
    return vector if norm == 0.0 else vector / norm


class VectorIndex:
    """Unit vectors by group and key; thread-safe. See the module docstring."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], _Group] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(g.rows) for g in self._groups.values())

    def add(self, group: tuple[str, str], key: str, vector: Any) -> None:
        """Put ``key``'s ``vector`` (a unit float32 vector) in ``group``."""
        vector = np.asarray(vector, dtype=np.float32)
        with self._lock:
            found = self._groups.get(group)
            if found is None:
                found = self._groups[group] = _Group(dim=int(vector.shape[0]))
            if vector.shape[0] != found.dim:
                raise ValueError(
                    f"a vector of {vector.shape[0]} dimensions in a group of {found.dim}: "
                    "the embedding model changed; invalidate the entry's answers"
                )
            found.add(key, vector)

    def remove(self, group: tuple[str, str], key: str) -> None:
        """Make ``key`` never match again."""
        with self._lock:
            found = self._groups.get(group)
            if found is not None:
                found.remove(key)

    def search(
        self, group: tuple[str, str], query: Any, *, threshold: float, count: int = 3
    ) -> list[tuple[str, float]]:
        """Up to ``count`` keys of ``group`` whose similarity to ``query`` is at least
        ``threshold``, best first."""
        with self._lock:
            found = self._groups.get(group)
            if found is None:
                return []
            if query.shape[0] != found.dim:
                return []
            return [(k, s) for k, s in found.best(query, count) if s >= threshold]

    def clear(self) -> None:
        with self._lock:
            self._groups.clear()


def unit_vector(values: Any) -> Any:
    """``values`` as a float32 vector of length 1 (a zero vector stays zero)."""
    vector = np.asarray(values, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector if norm == 0.0 else vector / norm
