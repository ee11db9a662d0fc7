"""The SQLite indexes beside the store, and what each holds, read without loading them.

Opening a :class:`SQLiteVectorIndex` loads every vector and rebuilds BM25 (seconds at
100,000 chunks); a listing only needs counts and times, which a few SQL aggregates
give. Both the listing and an open index's ``info()`` use the queries here.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from llmopt.retrieval._records import DocumentInfo, IndexInfo

FILE_PATTERN = re.compile(r"retrieval-([A-Za-z0-9_-]{1,64})\.sqlite3")


def index_name(path: str | Path) -> str:
    """An index's name: ``docs`` for ``retrieval-docs.sqlite3``, else the file's stem
    (``memory`` for an index in memory)."""
    text = str(path)
    if text == ":memory:":
        return "memory"
    found = FILE_PATTERN.fullmatch(Path(text).name)
    return found.group(1) if found else Path(text).stem


def list_indexes(folder: str | Path | None = None) -> list[IndexInfo]:
    """The SQLite indexes in ``folder`` (default: the folder of
    :func:`default_index_path`, beside the store), by name: every
    ``retrieval-<name>.sqlite3`` file that is an index. Nothing is loaded into memory
    and nothing is written; a file that is not a readable index is left out."""
    from llmopt.retrieval._sqlite import default_index_path

    where = Path(folder) if folder is not None else default_index_path().parent
    if not where.is_dir():
        return []
    found = []
    for path in sorted(where.iterdir()):
        if not FILE_PATTERN.fullmatch(path.name) or not path.is_file():
            continue
        try:
            found.append(read_index_info(path))
        except sqlite3.Error:
            continue
    return found


def read_index_info(path: str | Path) -> IndexInfo:
    """What the index file at ``path`` holds, read with SQL only. Raises
    ``FileNotFoundError`` for a missing file and ``sqlite3.Error`` for one that is not
    an index."""
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"no index file at {target}")
    db = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return describe(db, index_name(target), str(target))
    finally:
        db.close()


def read_document_infos(path: str | Path) -> list[DocumentInfo]:
    """The documents of the index file at ``path``, by id, read with SQL only."""
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"no index file at {target}")
    db = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return document_infos(db)
    finally:
        db.close()


def describe(db: sqlite3.Connection, name: str, path: str | None) -> IndexInfo:
    """An :class:`IndexInfo` from an index's connection."""
    documents, chunks = db.execute(
        "SELECT COUNT(DISTINCT document_id), COUNT(*) FROM retrieval_chunks"
    ).fetchone()
    meta = dict(db.execute("SELECT key, value FROM retrieval_meta").fetchall())
    last = None
    if _has_times(db):
        (last,) = db.execute("SELECT MAX(indexed_at) FROM retrieval_documents").fetchone()
    return IndexInfo(
        name=name,
        documents=int(documents),
        chunks=int(chunks),
        dimensions=int(meta["dimensions"]) if "dimensions" in meta and chunks else None,
        embedder=meta.get("embedder"),
        size_bytes=_size(path),
        last_indexed=_time(last),
        path=path,
    )


def document_infos(db: sqlite3.Connection) -> list[DocumentInfo]:
    """Each document's chunk count and last write time, by document id."""
    if _has_times(db):
        rows = db.execute(
            "SELECT c.document_id, COUNT(*), d.indexed_at FROM retrieval_chunks c"
            " LEFT JOIN retrieval_documents d ON d.document_id = c.document_id"
            " GROUP BY c.document_id ORDER BY c.document_id"
        ).fetchall()
    else:
        rows = db.execute(
            "SELECT document_id, COUNT(*), NULL FROM retrieval_chunks"
            " GROUP BY document_id ORDER BY document_id"
        ).fetchall()
    return [DocumentInfo(str(i), int(n), _time(at)) for i, n, at in rows]


def _has_times(db: sqlite3.Connection) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retrieval_documents'"
        ).fetchone()
        is not None
    )


def _size(path: str | None) -> int | None:
    if path is None or path == ":memory:":
        return None
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += Path(path + suffix).stat().st_size
    return total


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), UTC)
