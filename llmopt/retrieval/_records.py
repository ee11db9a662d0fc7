"""What the retriever stores, finds and assembles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from langchain_core.documents import Document

SearchMode = Literal["lexical", "vector", "hybrid"]
ContextOrder = Literal["stable", "relevance"]
SEARCH_MODES: tuple[SearchMode, ...] = ("lexical", "vector", "hybrid")
CONTEXT_ORDERS: tuple[ContextOrder, ...] = ("stable", "relevance")


@dataclass(frozen=True)
class IndexedChunk:
    """One chunk as an index holds it.

    ``chunk_id`` is ``"<document_id>#<chunk_index>"``; ``metadata`` is the chunker's
    (``source``, ``start_index``, ``content_hash``, ...) plus ``document_id``.
    """

    chunk_id: str
    document_id: str
    text: str
    content_hash: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", self.document_id))

    @property
    def start_index(self) -> int:
        value = self.metadata.get("start_index", 0)
        return value if isinstance(value, int) else 0

    def stable_key(self) -> tuple[str, int, str]:
        """The fixed document order context is assembled in: source, then offset."""
        return (self.source, self.start_index, self.chunk_id)

    def as_document(self, **extra: Any) -> Document:
        return Document(
            page_content=self.text, id=self.chunk_id, metadata={**self.metadata, **extra}
        )


@dataclass(frozen=True)
class SearchHit:
    """A chunk found for a query: ``score`` is the fused (or single-mode) score, higher
    is better; ``vector_score`` the cosine similarity and ``lexical_score`` the BM25
    score when that mode found it, else ``None``."""

    chunk: IndexedChunk
    score: float
    vector_score: float | None = None
    lexical_score: float | None = None

    def as_document(self) -> Document:
        return self.chunk.as_document(
            score=self.score, vector_score=self.vector_score, lexical_score=self.lexical_score
        )


@dataclass(frozen=True)
class RetrievedContext:
    """The context assembled for a prompt: ``text`` (what goes into the prompt),
    ``hits`` (the chunks used, in the order they appear in ``text``), and
    ``token_count`` (``text``'s tokens for the model, never over the budget)."""

    text: str
    hits: tuple[SearchHit, ...]
    token_count: int
    max_tokens: int
    order: ContextOrder

    @property
    def documents(self) -> list[Document]:
        return [hit.as_document() for hit in self.hits]


@dataclass(frozen=True)
class IndexReport:
    """What one :meth:`ContextRetriever.embed_and_index` call changed.

    ``embedded`` counts the texts sent to the embedding model: 0 when every chunk's
    content hash was already indexed."""

    documents: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document: its chunks and when they were last written (``None`` for
    an index written before times were recorded)."""

    document_id: str
    chunks: int
    indexed_at: datetime | None = None


@dataclass(frozen=True)
class IndexInfo:
    """What an index holds, for a listing: ``embedder`` is the name of the embedding
    model that made its vectors (``None`` before the first indexing, or for an index
    written before it was recorded); ``size_bytes`` the file's size with its WAL
    (``None`` where there is no file); ``last_indexed`` the latest document write."""

    name: str
    documents: int
    chunks: int
    dimensions: int | None
    embedder: str | None
    size_bytes: int | None
    last_indexed: datetime | None
    path: str | None = None


@dataclass(frozen=True)
class ReindexReport:
    """What :meth:`ContextRetriever.reindex` did: ``chunks`` re-embedded from their
    stored text across ``documents``, ``embedded`` distinct texts sent to ``embedder``."""

    documents: int
    chunks: int
    embedded: int
    embedder: str
    previous_embedder: str | None
