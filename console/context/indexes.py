"""The retrieval indexes the Context page shows: the SQLite files beside the store
(``retrieval-<name>.sqlite3``), listed without loading them, and opened (once per
process, reopened when another process changed the file) to search or re-index.

``llmopt.retrieval`` needs the ``retrieval`` extra (numpy); it is imported here only,
on use, so the console starts without it and the page says which extra to install.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.conf import settings

from llmopt.errors import ConfigError, FieldProblem, RecordNotFound

if TYPE_CHECKING:
    from llmopt.retrieval import ContextRetriever, DocumentInfo, IndexInfo, SQLiteVectorIndex
    from llmopt.store import Store

RETRIEVAL_MISSING = (
    "Context retrieval needs llmopt's retrieval extra (numpy, WordLlama and the "
    "chunkers), which is not installed where the console runs: pip install "
    "'llmopt[retrieval]'"
)
HOW_TO_CREATE = (
    "from llmopt.retrieval import ContextRetriever, default_index_path\n"
    'ContextRetriever(default_index_path("docs")).embed_and_index(documents)'
)


def load_retrieval() -> ModuleType:
    """``llmopt.retrieval``; raises ``ConfigError`` with :data:`RETRIEVAL_MISSING` when
    the extra's packages are not installed."""
    try:
        import llmopt.retrieval as retrieval
    except ModuleNotFoundError as exc:
        raise ConfigError([FieldProblem("", RETRIEVAL_MISSING)]) from exc
    return retrieval


def index_folder() -> Path:
    """Where the indexes live: the folder of the console's SQLite store."""
    return Path(settings.LLMOPT_SQLITE_PATH).parent


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One index with its documents (each with its last write time)."""

    info: IndexInfo
    documents: list[DocumentInfo] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ContextOverview:
    """What the page lists: the indexes, or why there can be none (``missing``: the
    extra is not installed)."""

    folder: Path
    indexes: list[IndexRow]
    missing: str = ""

    @property
    def names(self) -> list[str]:
        return [row.info.name for row in self.indexes]


def context_overview() -> ContextOverview:
    """The indexes beside the store with their documents, read without loading them."""
    folder = index_folder()
    try:
        retrieval = load_retrieval()
    except ConfigError as exc:
        return ContextOverview(folder, [], missing=exc.problems[0].message)
    rows = [
        IndexRow(info, retrieval.read_document_infos(info.path))
        for info in retrieval.list_indexes(folder)
    ]
    return ContextOverview(folder, rows)


_lock = threading.Lock()
_open: dict[str, tuple[tuple[Any, ...], SQLiteVectorIndex]] = {}


def _signature(info: IndexInfo) -> tuple[Any, ...]:
    return (info.documents, info.chunks, info.dimensions, info.embedder, info.last_indexed)


def open_index(name: str) -> SQLiteVectorIndex:
    """The index called ``name``, opened once per process and reopened when its file
    changed since (another process indexed it). Raises ``RecordNotFound`` for a name
    with no index file, ``ConfigError`` when the extra is missing."""
    retrieval = load_retrieval()
    known = {info.name: info for info in retrieval.list_indexes(index_folder())}
    info = known.get(name)
    if info is None or info.path is None:
        raise RecordNotFound(f"there is no retrieval index called {name!r}")
    signature = _signature(info)
    with _lock:
        cached = _open.get(info.path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        if cached is not None:
            cached[1].close()
        opened: SQLiteVectorIndex = retrieval.SQLiteVectorIndex(info.path)
        _open[info.path] = (signature, opened)
        return opened


def remember(index: SQLiteVectorIndex) -> None:
    """After this process changed ``index``, keep it as the current copy."""
    retrieval = load_retrieval()
    with _lock:
        _open[index.path] = (_signature(retrieval.read_index_info(index.path)), index)


def retriever_for(index: SQLiteVectorIndex, store: Store | None = None) -> ContextRetriever:
    """A retriever over ``index`` with llmopt's default embeddings (WordLlama, offline),
    auditing into ``store``."""
    retrieval = load_retrieval()
    result: ContextRetriever = retrieval.ContextRetriever(index, store=store)
    return result


def close_indexes() -> None:
    """Close every index this process opened (tests, shutdown)."""
    with _lock:
        for _, index in _open.values():
            index.close()
        _open.clear()
