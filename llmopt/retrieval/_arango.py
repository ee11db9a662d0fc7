"""The production index: chunks in an ArangoDB collection, searched by the server.

BM25 comes from an ArangoSearch view (``text_en`` analyzer), vectors from ArangoDB's
vector index (``APPROX_NEAR_COSINE``, ArangoDB 3.12.4+ started with
``--experimental-vector-index``) once :meth:`ArangoVectorIndex.build_vector_index`
has trained it on the stored vectors; until then, or where the server has no vector
index, a brute-force ``COSINE_SIMILARITY`` scan in AQL. python-arango is the core's
``arango`` extra, imported only when this module is.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt

try:
    from arango.database import StandardDatabase
    from arango.exceptions import ArangoError
except ModuleNotFoundError as exc:
    if exc.name != "arango":
        raise
    from llmopt.store._open import DRIVER_MISSING

    raise ModuleNotFoundError(DRIVER_MISSING, name="arango") from exc

from llmopt.retrieval._protocol import Filters, checked_filters
from llmopt.retrieval._records import DocumentInfo, IndexedChunk, IndexInfo

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,200}")
_ANALYZER = "text_en"


class ArangoVectorIndex:
    """A :class:`VectorIndex` in ArangoDB: collection ``name``, view ``<name>_search``.

    Use it where several machines share one index. ``db`` is a python-arango database;
    the collection, its indexes and the view are created when missing. Call
    :meth:`build_vector_index` after a bulk load to switch vector search from a scan to
    the approximate index. Raises ``ValueError`` for a bad name or mismatched vector
    lengths, and python-arango's ``ArangoError`` when the server refuses a request.
    """

    def __init__(
        self,
        db: StandardDatabase,
        *,
        name: str = "llmopt_chunks",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"collection name {name!r} is not a valid ArangoDB name")
        # python-arango's results are typed as "value, async job or batch job"; this
        # adapter only uses a standard database, whose results are the values.
        self._db: Any = cast(Any, db)
        self.name = name
        self.view = f"{name}_search"
        self._clock = clock
        # The embedder's name lives in one document of a small collection beside the chunks.
        self._meta_name = f"{name}_meta"
        for collection in (name, self._meta_name):
            if not self._db.has_collection(collection):
                self._db.create_collection(collection)
        self._meta: Any = self._db.collection(self._meta_name)
        self._collection: Any = self._db.collection(name)
        self._collection.add_index({"type": "persistent", "fields": ["document_id"]})
        self._collection.add_index({"type": "persistent", "fields": ["content_hash"]})
        if not any(v["name"] == self.view for v in self._db.views()):
            self._db.create_arangosearch_view(
                self.view,
                properties={"links": {name: {"fields": {"text": {"analyzers": [_ANALYZER]}}}}},
            )
        self._approximate = any(i.get("type") == "vector" for i in self._collection.indexes())
        self._dimensions: int | None = None

    @property
    def dimensions(self) -> int | None:
        if self._dimensions is None:
            found = self._rows("FOR d IN @@c LIMIT 1 RETURN LENGTH(d.vector)", {"@c": self.name})
            self._dimensions = int(found[0]) if found else None
        return self._dimensions

    @property
    def embedder(self) -> str | None:
        found = self._meta.get("index")
        return None if not found else found.get("embedder")

    def record_embedder(self, embedder: str) -> None:
        self._meta.insert({"_key": "index", "embedder": embedder}, overwrite=True)

    def info(self) -> IndexInfo:
        [row] = self._rows(
            "LET n = LENGTH(FOR d IN @@c COLLECT i = d.document_id RETURN 1)"
            " LET t = MAX(FOR d IN @@c RETURN d.indexed_at) RETURN [n, t]",
            {"@c": self.name},
        )
        documents, last = row
        count = self.count()
        return IndexInfo(
            name=self.name,
            documents=int(documents),
            chunks=count,
            dimensions=self.dimensions if count else None,
            embedder=self.embedder,
            size_bytes=None,
            last_indexed=_time(last),
        )

    def documents(self) -> list[DocumentInfo]:
        rows = self._rows(
            "FOR d IN @@c COLLECT i = d.document_id AGGREGATE n = COUNT(1), t = MAX(d.indexed_at)"
            " SORT i RETURN [i, n, t]",
            {"@c": self.name},
        )
        return [DocumentInfo(str(i), int(n), _time(t)) for i, n, t in rows]

    def reembed(self, vectors: Mapping[str, npt.NDArray[np.float32]], *, embedder: str) -> int:
        width = {int(np.asarray(v).reshape(-1).shape[0]) for v in vectors.values()}
        if len(width) > 1:
            raise ValueError(f"the new vectors have different lengths: {sorted(width)}")
        dimensions = width.pop() if width else self.dimensions
        changes_width = self.count() > 0 and dimensions != self.dimensions
        if changes_width and len(vectors) != self.count():
            raise ValueError(
                f"vectors of {dimensions} dimensions (the index holds {self.dimensions})"
                " must replace every chunk's: re-index the whole index"
            )
        rows = [
            {"_key": _key(i), "vector": [float(x) for x in np.asarray(v).reshape(-1)]}
            for i, v in vectors.items()
        ]
        updated = self._rows(
            "FOR r IN @rows UPDATE r WITH {vector: r.vector, indexed_at: @t} IN @@c"
            " OPTIONS {ignoreErrors: true} RETURN 1",
            {"@c": self.name, "rows": rows, "t": self._clock()},
        )
        if changes_width:  # the trained vector index has the old length
            for index in self._collection.indexes():
                if index.get("type") == "vector":
                    self._collection.delete_index(index["id"])
            self._approximate = False
        self._dimensions = dimensions
        self.record_embedder(embedder)
        return len(updated)

    def count(self) -> int:
        return int(self._collection.count())

    def document_ids(self) -> list[str]:
        return [
            str(i)
            for i in self._rows(
                "FOR d IN @@c COLLECT id = d.document_id SORT id RETURN id", {"@c": self.name}
            )
        ]

    def chunks_of(self, document_id: str) -> list[IndexedChunk]:
        rows = self._rows(
            "FOR d IN @@c FILTER d.document_id == @id RETURN d",
            {"@c": self.name, "id": document_id},
        )
        return sorted((_chunk(r) for r in rows), key=lambda c: c.stable_key())

    def get(self, chunk_ids: Sequence[str]) -> list[IndexedChunk]:
        rows = self._rows(
            "FOR d IN DOCUMENT(@ids) RETURN d",
            {"ids": [f"{self.name}/{_key(i)}" for i in dict.fromkeys(chunk_ids)]},
        )
        found = {r["chunk_id"]: _chunk(r) for r in rows}
        return [found[i] for i in chunk_ids if i in found]

    def vectors_by_hash(self, content_hashes: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        rows = self._rows(
            "FOR d IN @@c FILTER d.content_hash IN @h"
            " COLLECT h = d.content_hash INTO g = d.vector RETURN [h, FIRST(g)]",
            {"@c": self.name, "h": list(dict.fromkeys(content_hashes))},
        )
        return {h: np.asarray(v, dtype=np.float32) for h, v in rows}

    def replace_document(
        self,
        document_id: str,
        chunks: Sequence[IndexedChunk],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(chunks):
            stored = self.dimensions
            if stored is not None and vectors.shape[1] != stored:
                raise ValueError(
                    f"this index holds {stored}-dimension vectors and cannot take "
                    f"{vectors.shape[1]}-dimension ones"
                )
        now = self._clock()
        rows = [
            {
                "_key": _key(chunk.chunk_id),
                "chunk_id": chunk.chunk_id,
                "document_id": chunk.document_id,
                "content_hash": chunk.content_hash,
                "text": chunk.text,
                "metadata": json.loads(json.dumps(dict(chunk.metadata), default=str)),
                "vector": [float(x) for x in vector],
                "indexed_at": now,
            }
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        transaction = self._db.begin_transaction(write=[self.name])
        try:
            transaction.aql.execute(
                "FOR d IN @@c FILTER d.document_id == @id REMOVE d IN @@c",
                bind_vars={"@c": self.name, "id": document_id},
            )
            if rows:
                transaction.aql.execute(
                    "FOR r IN @rows INSERT r INTO @@c", bind_vars={"@c": self.name, "rows": rows}
                )
            transaction.commit_transaction()
        except BaseException:
            transaction.abort_transaction()
            raise
        if rows and self._dimensions is None:
            self._dimensions = int(vectors.shape[1])

    def delete_document(self, document_id: str) -> int:
        removed = self._rows(
            "FOR d IN @@c FILTER d.document_id == @id REMOVE d IN @@c RETURN 1",
            {"@c": self.name, "id": document_id},
        )
        return len(removed)

    def vector_search(
        self, vector: npt.NDArray[np.float32], limit: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        conditions, bind = _filter_clause(filters)
        if limit <= 0:
            return []
        bind.update({"@c": self.name, "q": [float(x) for x in np.asarray(vector).reshape(-1)]})
        bind["k"] = limit
        if self._approximate:
            try:
                rows = self._rows(
                    f"FOR d IN @@c {conditions} LET s = APPROX_NEAR_COSINE(d.vector, @q)"
                    " SORT s DESC LIMIT @k RETURN [d.chunk_id, s]",
                    bind,
                )
                return _ranked(rows)
            except ArangoError:
                self._approximate = False
        rows = self._rows(
            f"FOR d IN @@c {conditions} LET s = COSINE_SIMILARITY(d.vector, @q)"
            " SORT s DESC, d.chunk_id LIMIT @k RETURN [d.chunk_id, s]",
            bind,
        )
        return _ranked(rows)

    def lexical_search(
        self, query: str, limit: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        conditions, bind = _filter_clause(filters)
        if limit <= 0 or not query.strip():
            return []
        bind.update({"@v": self.view, "q": query, "k": limit, "a": _ANALYZER})
        rows = self._rows(
            "FOR d IN @@v SEARCH ANALYZER(d.text IN TOKENS(@q, @a), @a)"
            f" OPTIONS {{waitForSync: true}} {conditions}"
            " LET s = BM25(d) SORT s DESC, d.chunk_id LIMIT @k RETURN [d.chunk_id, s]",
            bind,
        )
        return _ranked(rows)

    def build_vector_index(self, *, lists: int | None = None) -> bool:
        """Create the approximate vector index over the stored vectors (needs data:
        ``lists`` defaults to about sqrt(count)). Returns ``False`` when the server has
        no vector index (older than 3.12.4, or not started with
        ``--experimental-vector-index``); searches then keep scanning."""
        dimensions = self.dimensions
        if dimensions is None:
            raise ValueError("build the vector index after indexing some documents")
        n_lists = lists or max(1, int(self.count() ** 0.5))
        try:
            self._collection.add_index(
                {
                    "type": "vector",
                    "fields": ["vector"],
                    "params": {"metric": "cosine", "dimension": dimensions, "nLists": n_lists},
                }
            )
        except ArangoError:
            return False
        self._approximate = True
        return True

    def close(self) -> None:
        """Nothing to release: the caller owns the database connection."""

    def _rows(self, query: str, bind: dict[str, Any]) -> list[Any]:
        return list(self._db.aql.execute(query, bind_vars=bind))


def _filter_clause(filters: Filters | None) -> tuple[str, dict[str, Any]]:
    checked = checked_filters(filters)
    parts, bind = [], {}
    for n, (key, value) in enumerate(sorted(checked.items())):
        parts.append(f"FILTER d.metadata[@fk{n}] == @fv{n}")
        bind[f"fk{n}"] = key
        bind[f"fv{n}"] = json.loads(value)
    return " ".join(parts), bind


def _ranked(rows: list[Any]) -> list[tuple[str, float]]:
    return sorted(((str(i), float(s)) for i, s in rows), key=lambda pair: (-pair[1], pair[0]))


def _key(chunk_id: str) -> str:
    # ArangoDB keys allow few characters; chunk ids are document ids (paths, URLs).
    return hashlib.sha256(chunk_id.encode("utf-8")).hexdigest()[:40]


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), UTC)


def _chunk(row: dict[str, Any]) -> IndexedChunk:
    return IndexedChunk(
        chunk_id=row["chunk_id"],
        document_id=row["document_id"],
        text=row["text"],
        content_hash=row["content_hash"],
        metadata=row.get("metadata") or {},
    )
