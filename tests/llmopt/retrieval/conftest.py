from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from llmopt.retrieval import SQLiteVectorIndex, VectorIndex

_WORD = re.compile(r"\w+")


class CountingEmbeddings(Embeddings):
    """Deterministic bag-of-words vectors (hashed words, crude suffix stripping) that
    count every text they embed, so a test can tell what was sent to the model."""

    def __init__(self, dimensions: int = 64) -> None:
        self.dimensions = dimensions
        self.embedded: list[str] = []

    def _vector(self, text: str) -> list[float]:
        vector = np.zeros(self.dimensions, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            stem = word[:5]
            digest = hashlib.sha256(stem.encode()).digest()
            vector[digest[0] % self.dimensions] += 1.0
        return vector.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class Clock:
    """A settable clock (seconds since the epoch) for freshness times."""

    def __init__(self, now: float = 1_780_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def embeddings() -> CountingEmbeddings:
    return CountingEmbeddings()


@pytest.fixture(
    params=["sqlite-memory", "sqlite-file", pytest.param("arango", marks=pytest.mark.arango)]
)
def index(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[VectorIndex]:
    """Each index backend, fresh and empty, writing at ``clock``'s times."""
    if request.param == "arango":
        yield from _arango_index(clock)
        return
    path = ":memory:" if request.param == "sqlite-memory" else tmp_path / "index.sqlite3"
    opened = SQLiteVectorIndex(path, clock=clock)
    yield opened
    opened.close()


def _arango_index(clock: Clock) -> Iterator[VectorIndex]:
    url = os.environ.get("ARANGO_URL")
    if not url:
        pytest.skip("ArangoDB contract tests need a server: set ARANGO_URL (and ARANGO_DB, ...)")
    from arango import ArangoClient

    from llmopt.retrieval import ArangoVectorIndex

    username = os.environ.get("ARANGO_USERNAME", "root")
    password = os.environ.get("ARANGO_PASSWORD", "")
    database = os.environ.get("ARANGO_DB", "llmopt_test")
    client = ArangoClient(hosts=url)
    system = client.db("_system", username=username, password=password)
    if not system.has_database(database):
        system.create_database(database)
    db = client.db(database, username=username, password=password)
    name = f"t{uuid.uuid4().hex[:10]}_chunks"
    opened = ArangoVectorIndex(db, name=name, clock=clock)
    try:
        yield opened
    finally:
        opened.close()
        db.delete_view(opened.view, ignore_missing=True)
        db.delete_collection(name, ignore_missing=True)
        db.delete_collection(f"{name}_meta", ignore_missing=True)
        client.close()
