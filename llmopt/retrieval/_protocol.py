"""``VectorIndex``: the storage every retriever backend implements."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from llmopt.retrieval._records import DocumentInfo, IndexedChunk, IndexInfo

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Filters = Mapping[str, Any]
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class VectorIndex(Protocol):
    """Chunks with their unit vectors and their BM25 statistics, kept incrementally.

    ``filters`` are equalities on metadata keys (``{"source": "a.md"}``), all of which
    must hold. Scores are higher-is-better: cosine similarity for ``vector_search``,
    BM25 for ``lexical_search``. Implementations: :class:`SQLiteVectorIndex` (one
    machine) and :class:`ArangoVectorIndex` (production).
    """

    @property
    def dimensions(self) -> int | None:
        """The vectors' length, fixed by the first chunk stored; ``None`` when empty."""
        ...

    @property
    def name(self) -> str:
        """The index's name (the SQLite file's ``<name>``, the ArangoDB collection)."""
        ...

    @property
    def embedder(self) -> str | None:
        """The name of the embedding model that made the stored vectors; ``None`` until
        one is recorded."""
        ...

    def record_embedder(self, embedder: str) -> None:
        """Remember which embedding model makes this index's vectors."""
        ...

    def info(self) -> IndexInfo:
        """Documents, chunks, dimensions, embedder, size and last write, for a listing."""
        ...

    def documents(self) -> list[DocumentInfo]:
        """Each document's chunk count and last write time, by document id."""
        ...

    def reembed(self, vectors: Mapping[str, npt.NDArray[np.float32]], *, embedder: str) -> int:
        """Replace the vectors of the chunks named (by chunk id), made by ``embedder``,
        and record it; returns how many chunks were updated. Vectors of another length
        than the stored ones must cover every chunk (``ValueError`` otherwise)."""
        ...

    def count(self) -> int: ...

    def document_ids(self) -> list[str]: ...

    def chunks_of(self, document_id: str) -> list[IndexedChunk]:
        """The document's chunks, in chunk order."""
        ...

    def get(self, chunk_ids: Sequence[str]) -> list[IndexedChunk]:
        """The chunks that exist among ``chunk_ids``, in the order asked."""
        ...

    def vectors_by_hash(self, content_hashes: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Stored vectors for those content hashes (so unchanged text is not embedded)."""
        ...

    def replace_document(
        self,
        document_id: str,
        chunks: Sequence[IndexedChunk],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        """Make ``chunks`` (one row of ``vectors`` each) the document's only chunks."""
        ...

    def delete_document(self, document_id: str) -> int:
        """Remove the document's chunks; returns how many there were."""
        ...

    def vector_search(
        self, vector: npt.NDArray[np.float32], limit: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]: ...

    def lexical_search(
        self, query: str, limit: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]: ...

    def close(self) -> None: ...


def checked_filters(filters: Filters | None) -> dict[str, str]:
    """The filters as ``{key: JSON of the value}``; raises ``ValueError`` for a key that
    is not an identifier or a value that is not a JSON scalar."""
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise ValueError(f"filters must be a mapping of metadata key to value, got {filters!r}")
    checked: dict[str, str] = {}
    for key, value in filters.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"filter key {key!r} is not a metadata name (letters, digits, _)")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(
                f"filter {key!r} must equal a string, number, boolean or None, got {value!r}"
            )
        checked[key] = canonical(value)
    return checked


def canonical(value: Any) -> str:
    """A metadata value as the JSON text filters compare (``1`` and ``1.0`` differ)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
