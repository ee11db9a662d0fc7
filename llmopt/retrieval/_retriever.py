"""``ContextRetriever``: index documents, search them, assemble context for a prompt."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.embeddings import Embeddings

from llmopt.retrieval._assembly import assemble_context
from llmopt.retrieval._fusion import reciprocal_rank_fusion
from llmopt.retrieval._protocol import Filters, VectorIndex, checked_filters
from llmopt.retrieval._records import (
    SEARCH_MODES,
    ContextOrder,
    IndexedChunk,
    IndexReport,
    ReindexReport,
    RetrievedContext,
    SearchHit,
    SearchMode,
)
from llmopt.retrieval._sqlite import SQLiteVectorIndex

if TYPE_CHECKING:
    from llmopt.chunking import SemanticChunker
    from llmopt.retrieval._langchain import LLMOptRetriever
    from llmopt.store import Store
    from llmopt.tokens import TokenCounter

DEFAULT_MODEL: Final = "claude-sonnet-4-6"
# The name recorded for llmopt's default embeddings (WordLlama's bundled model), known
# without loading it.
DEFAULT_EMBEDDER: Final = "wordllama:l2_supercat-256"
ACTION_REINDEX: Final = "retrieval.reindex"
ACTION_DELETE_DOCUMENT: Final = "retrieval.delete"
_EMBED_BATCH = 512
# How many chunks each mode hands to fusion and to the re-ranker, at least: fusing two
# top-5 lists would drop a chunk ranked 6th by both that RRF would have put first.
CANDIDATES: Final = 50

Reranker = Callable[[str, list[SearchHit]], Sequence[SearchHit]] | BaseDocumentCompressor


class EmbedderMismatchError(ValueError):
    """Raised when an index's vectors were made by another embedding model than the
    retriever's: comparing them would rank by noise. Search with the index's model, or
    re-index the whole index with :meth:`ContextRetriever.reindex`."""


def embedder_name(embeddings: Embeddings | None) -> str:
    """The name an index records for ``embeddings`` (``None``: llmopt's default).

    An ``embedder_name`` attribute wins; llmopt's WordLlama embeddings are
    :data:`DEFAULT_EMBEDDER`; otherwise the class's import path, with its ``model`` (or
    ``model_name``) when it has one.
    """
    if embeddings is None:
        return DEFAULT_EMBEDDER
    explicit = getattr(embeddings, "embedder_name", None)
    if isinstance(explicit, str) and explicit:
        return explicit
    kind = type(embeddings)
    if kind.__name__ == "WordLlamaEmbeddings" and kind.__module__.startswith("llmopt.embeddings"):
        return DEFAULT_EMBEDDER
    name = f"{kind.__module__}.{kind.__qualname__}"
    for attribute in ("model", "model_name"):
        model = getattr(embeddings, attribute, None)
        if isinstance(model, str) and model:
            return f"{name}:{model}"
    return name


class ContextRetriever:
    """Retrieval-augmented context for prompts: hybrid search over indexed chunks and a
    token-bounded, stably ordered context.

    Use it to give every call the few passages it needs instead of whole documents.
    ``index`` is a :class:`VectorIndex` (or a path: a :class:`SQLiteVectorIndex` is
    opened there). ``embeddings`` is any LangChain ``Embeddings`` (default
    ``llmopt.embeddings.default_embeddings()``, offline WordLlama, loaded on first
    use); ``chunker`` cuts documents (default ``SemanticChunker("structure",
    max_tokens=256)``); ``counter`` counts the context's tokens for ``model``.
    ``reranker`` (default none) re-orders the fused candidates: a callable
    ``(query, hits) -> hits`` or a LangChain ``BaseDocumentCompressor``. ``store``
    receives the audit records of :meth:`reindex` and :meth:`delete_document` when they
    are given an ``actor``. The index records which embedding model made its vectors
    (:func:`embedder_name`, or ``embedder`` to name it yourself).

    =======================  ======================================================
    method                   does
    =======================  ======================================================
    ``embed_and_index``      adds or updates documents; unchanged text is not
                             embedded again (content hash)
    ``delete_document``      removes a document's chunks (audited with ``actor``)
    ``reindex``              re-embeds stored chunks from their text (audited)
    ``semantic_search``      the ``top_k`` best chunks: ``lexical`` (BM25),
                             ``vector`` (cosine) or ``hybrid`` (rank fusion)
    ``rank_by_relevance``    ranks given documents for a query, without the index
    ``retrieve_context``     the best chunks within ``max_tokens``, as prompt text
    ``as_retriever``         a LangChain ``BaseRetriever``
    =======================  ======================================================

    Raises ``ValueError`` for bad arguments (unknown mode or order, ``top_k`` or
    ``max_tokens`` below 1, malformed filters), :class:`EmbedderMismatchError` (a
    ``ValueError``) when indexing or searching by vector with another embedding model
    than the index's, and ``llmopt.errors.ConfigError`` when a default needs an extra
    that is not installed (``embeddings``, ``chunking``).
    """

    def __init__(
        self,
        index: VectorIndex | str | Path,
        *,
        embeddings: Embeddings | None = None,
        chunker: SemanticChunker | None = None,
        counter: TokenCounter | None = None,
        model: str = DEFAULT_MODEL,
        reranker: Reranker | None = None,
        candidates: int = CANDIDATES,
        store: Store | None = None,
        embedder: str | None = None,
    ) -> None:
        if isinstance(index, str | Path):
            index = SQLiteVectorIndex(index)
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}")
        if reranker is not None and not (
            callable(reranker) or isinstance(reranker, BaseDocumentCompressor)
        ):
            raise ValueError(
                "reranker must be a callable (query, hits) -> hits or a LangChain "
                f"BaseDocumentCompressor, got {type(reranker).__name__}"
            )
        self.index: VectorIndex = index
        self.model = model
        self.reranker = reranker
        self.candidates = candidates
        self.store = store
        self.embedder = embedder or embedder_name(embeddings)
        self._embeddings = embeddings
        self._chunker = chunker
        self._counter = counter

    # Indexing.

    def embed_and_index(self, documents: Iterable[Document | str]) -> IndexReport:
        """Chunk, embed and store ``documents``, replacing any earlier version of each.

        A document is known by its ``id``, else its ``source`` metadata, else the hash
        of its text (plain strings too). Re-indexing a document whose chunks are
        unchanged writes nothing; chunks whose text is already indexed anywhere reuse
        their stored vectors, so only new text is sent to the embedding model.
        """
        report = IndexReport()
        for document in documents:
            report = _added(report, self._index_one(_as_document(document)))
        return report

    def delete_document(
        self, document_id: str, *, actor: str | None = None, reason: str = ""
    ) -> int:
        """Remove a document's chunks (by the id it was indexed under); returns how many.

        With ``actor``, the deletion is recorded in ``store``'s audit log
        (``retrieval.delete``, target ``retrieval:<index>/<document>``); raises
        ``ValueError`` when the retriever has no store to record it in.
        """
        self._check_audit(actor)
        removed = self.index.delete_document(document_id)
        if actor is not None:
            self._audit(
                actor,
                ACTION_DELETE_DOCUMENT,
                document_id,
                before={"chunks": removed},
                after=None,
                reason=reason,
            )
        return removed

    def reindex(
        self, document_id: str | None = None, *, actor: str | None = None, reason: str = ""
    ) -> ReindexReport:
        """Embed the stored chunks again from their stored text, with this retriever's
        embedding model: one document's, or (``None``) every chunk of the index.

        Use it after the embedding model changed (re-index the whole index: the index
        then records the new model, whatever its vectors' length) or to repair vectors.
        Nothing is chunked again. With ``actor``, recorded in ``store``'s audit log
        (``retrieval.reindex``, target ``retrieval:<index>[/<document>]``). Raises
        ``llmopt.errors.RecordNotFound`` for a document the index does not hold, and
        :class:`EmbedderMismatchError` when one document is asked for while the index's
        vectors come from another model.
        """
        self._check_audit(actor)
        previous = self.index.embedder
        if document_id is not None:
            if previous is not None and previous != self.embedder:
                raise EmbedderMismatchError(
                    f"index {self.index.name!r} was embedded with {previous}, this retriever "
                    f"embeds with {self.embedder}: re-index the whole index to change "
                    "the model, not one document"
                )
            chunks = self.index.chunks_of(document_id)
            if not chunks:
                from llmopt.errors import RecordNotFound

                raise RecordNotFound(f"index {self.index.name!r} holds no document {document_id!r}")
            documents = 1
        else:
            ids = self.index.document_ids()
            chunks = [chunk for i in ids for chunk in self.index.chunks_of(i)]
            documents = len(ids)
        texts = {chunk.content_hash: chunk.text for chunk in chunks}
        hashes = list(texts)
        by_hash: dict[str, npt.NDArray[np.float32]] = {}
        for start in range(0, len(hashes), _EMBED_BATCH):
            part = hashes[start : start + _EMBED_BATCH]
            by_hash.update(zip(part, self._embed([texts[h] for h in part]), strict=True))
        updated = self.index.reembed(
            {chunk.chunk_id: by_hash[chunk.content_hash] for chunk in chunks},
            embedder=self.embedder,
        )
        report = ReindexReport(
            documents=documents,
            chunks=updated,
            embedded=len(hashes),
            embedder=self.embedder,
            previous_embedder=previous,
        )
        if actor is not None:
            self._audit(
                actor,
                ACTION_REINDEX,
                document_id,
                before={"embedder": previous},
                after={
                    "embedder": report.embedder,
                    "documents": report.documents,
                    "chunks": report.chunks,
                    "embedded": report.embedded,
                },
                reason=reason,
            )
        return report

    # Searching.

    def semantic_search(
        self,
        query: str,
        top_k: int = 5,
        *,
        filters: Filters | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """The ``top_k`` chunks most relevant to ``query``, best first.

        ``filters`` keep chunks whose metadata equals every given value. ``hybrid``
        fuses the BM25 and the cosine rankings by reciprocal rank; the re-ranker, when
        set, then re-orders the fused candidates.
        """
        _check_query(query, top_k, mode)
        checked_filters(filters)
        pool = max(top_k, self.candidates)
        lexical: list[tuple[str, float]] = []
        vector: list[tuple[str, float]] = []
        if mode in ("lexical", "hybrid"):
            lexical = self.index.lexical_search(query, pool, filters)
        if mode in ("vector", "hybrid"):
            self._check_embedder()
            vector = self.index.vector_search(self._embed([query], query=True)[0], pool, filters)
        # The re-ranker sees every fused candidate; without one only the top_k are read.
        keep = pool if self.reranker is not None else top_k
        hits = _fused(self.index, lexical, vector, mode, keep)
        if self.reranker is not None:
            hits = self._reranked(query, hits)
        return hits[:top_k]

    def rank_by_relevance(
        self, documents: Sequence[Document | str], query: str, *, mode: SearchMode = "hybrid"
    ) -> list[SearchHit]:
        """Every one of ``documents`` ranked for ``query``, best first (the index is not
        used or changed). Documents neither mode matches come last, in the given order."""
        _check_query(query, 1, mode)
        chunks = [
            _whole_chunk(_as_document(document), position)
            for position, document in enumerate(documents)
        ]
        if not chunks:
            return []
        scratch = SQLiteVectorIndex(":memory:")
        try:
            vectors = self._embed([c.text for c in chunks])
            for chunk, row in zip(chunks, vectors, strict=True):
                scratch.replace_document(chunk.document_id, [chunk], row[None, :])
            limit = len(chunks)
            lexical: list[tuple[str, float]] = []
            vector: list[tuple[str, float]] = []
            if mode != "vector":
                lexical = scratch.lexical_search(query, limit)
            if mode != "lexical":
                vector = scratch.vector_search(self._embed([query], query=True)[0], limit)
            hits = _fused(scratch, lexical, vector, mode, limit)
        finally:
            scratch.close()
        if self.reranker is not None:
            hits = self._reranked(query, hits)
        found = {hit.chunk.chunk_id for hit in hits}
        return hits + [SearchHit(chunk, 0.0) for chunk in chunks if chunk.chunk_id not in found]

    def retrieve_context(
        self,
        query: str,
        *,
        max_tokens: int = 2000,
        top_k: int = 8,
        filters: Filters | None = None,
        mode: SearchMode = "hybrid",
        order: ContextOrder = "stable",
    ) -> RetrievedContext:
        """The context for a prompt: of the ``top_k`` best chunks, the most relevant that
        fit ``max_tokens`` together, each under a ``[source]`` line.

        ``order="stable"`` (default) lays them out in document order (source, then
        offset), so the same chunks give byte-identical text on every call and the
        prompt cache can reuse it; ``"relevance"`` puts the best first.
        """
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a whole number of at least 1, got {max_tokens!r}")
        hits = self.semantic_search(query, top_k, filters=filters, mode=mode)
        counter = self._token_counter()
        return assemble_context(
            hits,
            max_tokens=max_tokens,
            count=lambda text: counter.count_tokens(text, self.model),
            order=order,
        )

    def as_retriever(
        self, *, top_k: int = 5, filters: Filters | None = None, mode: SearchMode = "hybrid"
    ) -> LLMOptRetriever:
        """This retriever as a LangChain ``BaseRetriever`` (for chains and agents)."""
        from llmopt.retrieval._langchain import LLMOptRetriever

        _check_query("", top_k, mode)
        checked_filters(filters)
        return LLMOptRetriever(
            context_retriever=self,
            top_k=top_k,
            filters=dict(filters) if filters else None,
            mode=mode,
        )

    def close(self) -> None:
        self.index.close()

    # Internals.

    def _check_embedder(self) -> str | None:
        stored = self.index.embedder
        if stored is not None and stored != self.embedder:
            raise EmbedderMismatchError(
                f"index {self.index.name!r} holds vectors made by {stored}, this retriever "
                f"embeds with {self.embedder}: their similarities would be meaningless. "
                f"Search it with {stored} (or in lexical mode), or re-index the whole "
                "index with the new model (ContextRetriever.reindex())"
            )
        return stored

    def _check_audit(self, actor: str | None) -> None:
        if actor is not None and self.store is None:
            raise ValueError("an audited change (actor given) needs the retriever's store=")

    def _audit(
        self,
        actor: str,
        action: str,
        document_id: str | None,
        *,
        before: Any,
        after: Any,
        reason: str,
    ) -> None:
        from llmopt.store import AuditEvent

        assert self.store is not None
        target = f"retrieval:{self.index.name}"
        if document_id is not None:
            target += f"/{document_id}"
        self.store.record_audit(
            AuditEvent(
                actor=actor, action=action, target=target, before=before, after=after, reason=reason
            )
        )

    def _index_one(self, document: Document) -> IndexReport:
        document_id = _document_id(document)
        metadata = {"source": document_id, **document.metadata}
        pieces = self._chunker_or_default().split_documents(
            [Document(page_content=document.page_content, metadata=metadata)]
        )
        chunks = [
            IndexedChunk(
                chunk_id=f"{document_id}#{position}",
                document_id=document_id,
                text=piece.page_content,
                content_hash=str(piece.metadata.get("content_hash") or _sha256(piece.page_content)),
                metadata={**piece.metadata, "document_id": document_id},
            )
            for position, piece in enumerate(pieces)
        ]
        stored_embedder = self._check_embedder()
        before = self.index.chunks_of(document_id)
        if _same(before, chunks):
            return IndexReport(documents=1, unchanged=len(chunks))
        known = self.index.vectors_by_hash([c.content_hash for c in chunks])
        missing = list(dict.fromkeys(c.content_hash for c in chunks if c.content_hash not in known))
        if missing:
            text_of = {c.content_hash: c.text for c in chunks}
            embedded = self._embed([text_of[h] for h in missing])
            known.update(zip(missing, embedded, strict=True))
        dimensions = self.index.dimensions or (len(next(iter(known.values()))) if known else 0)
        vectors = (
            np.stack([known[c.content_hash] for c in chunks])
            if chunks
            else np.zeros((0, dimensions), dtype=np.float32)
        )
        self.index.replace_document(document_id, chunks, vectors)
        if stored_embedder is None and chunks:
            self.index.record_embedder(self.embedder)
        old = {c.content_hash for c in before}
        new = {c.content_hash for c in chunks}
        return IndexReport(
            documents=1,
            added=sum(1 for c in chunks if c.content_hash not in old),
            removed=sum(1 for c in before if c.content_hash not in new),
            unchanged=sum(1 for c in chunks if c.content_hash in old),
            embedded=len(missing),
        )

    def _embed(self, texts: list[str], *, query: bool = False) -> npt.NDArray[np.float32]:
        embeddings = self._embeddings_or_default()
        batch = getattr(embeddings, "embed_batch", None)
        if query and batch is None:
            vectors = np.asarray([embeddings.embed_query(texts[0])], dtype=np.float32)
        elif batch is not None:
            vectors = np.asarray(batch(texts), dtype=np.float32)
        else:
            vectors = np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ValueError(f"the embedding model returned {vectors.shape} for {len(texts)} texts")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors

    def _reranked(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        reranker = self.reranker
        if isinstance(reranker, BaseDocumentCompressor):
            by_id = {hit.chunk.chunk_id: hit for hit in hits}
            kept = reranker.compress_documents([hit.as_document() for hit in hits], query)
            result = []
            for document in kept:
                hit = by_id.get(str(document.id))
                if hit is not None:
                    score = document.metadata.get("relevance_score", hit.score)
                    result.append(replace(hit, score=float(score)))
            return result
        assert reranker is not None
        return list(reranker(query, list(hits)))

    def _embeddings_or_default(self) -> Embeddings:
        if self._embeddings is None:
            from llmopt.embeddings import default_embeddings

            self._embeddings = default_embeddings()
        return self._embeddings

    def _chunker_or_default(self) -> SemanticChunker:
        if self._chunker is None:
            from llmopt.chunking import SemanticChunker

            self._chunker = SemanticChunker(
                "structure", max_tokens=256, counter=self._token_counter(), model=self.model
            )
        return self._chunker

    def _token_counter(self) -> TokenCounter:
        if self._counter is None:
            from llmopt.tokens import TokenCounter

            self._counter = TokenCounter()
        return self._counter


def _check_query(query: str, top_k: int, mode: str) -> None:
    if not isinstance(query, str):
        raise ValueError(f"query must be a string, got {type(query).__name__}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a whole number of at least 1, got {top_k!r}")
    if mode not in SEARCH_MODES:
        raise ValueError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")


def _fused(
    index: VectorIndex,
    lexical: list[tuple[str, float]],
    vector: list[tuple[str, float]],
    mode: SearchMode,
    keep: int,
) -> list[SearchHit]:
    lexical_score = dict(lexical)
    vector_score = dict(vector)
    if mode == "lexical":
        ranked = lexical
    elif mode == "vector":
        ranked = vector
    else:
        ranked = reciprocal_rank_fusion([[i for i, _ in lexical], [i for i, _ in vector]])
    ranked = ranked[:keep]
    chunks = {chunk.chunk_id: chunk for chunk in index.get([i for i, _ in ranked])}
    return [
        SearchHit(
            chunk=chunks[chunk_id],
            score=score,
            vector_score=vector_score.get(chunk_id),
            lexical_score=lexical_score.get(chunk_id),
        )
        for chunk_id, score in ranked
        if chunk_id in chunks
    ]


def _as_document(document: Document | str) -> Document:
    if isinstance(document, str):
        return Document(page_content=document)
    if isinstance(document, Document):
        return document
    raise ValueError(f"expected a LangChain Document or a string, got {type(document).__name__}")


def _document_id(document: Document) -> str:
    if document.id:
        return str(document.id)
    source = document.metadata.get("source")
    if source:
        return str(source)
    return _sha256(document.page_content)[:32]


def _whole_chunk(document: Document, position: int) -> IndexedChunk:
    chunk_id = str(document.id) if document.id else f"#{position}"
    return IndexedChunk(
        chunk_id=chunk_id,
        document_id=chunk_id,
        text=document.page_content,
        content_hash=_sha256(document.page_content),
        metadata=dict(document.metadata),
    )


def _same(before: list[IndexedChunk], after: list[IndexedChunk]) -> bool:
    def key(chunk: IndexedChunk) -> tuple[str, str, str]:
        return (chunk.chunk_id, chunk.content_hash, _metadata_json(chunk.metadata))

    return sorted(map(key, before)) == sorted(map(key, after))


def _metadata_json(metadata: Mapping[str, Any]) -> str:
    return json.dumps(dict(metadata), sort_keys=True, ensure_ascii=False, default=str)


def _added(total: IndexReport, one: IndexReport) -> IndexReport:
    return IndexReport(
        documents=total.documents + one.documents,
        added=total.added + one.added,
        removed=total.removed + one.removed,
        unchanged=total.unchanged + one.unchanged,
        embedded=total.embedded + one.embedded,
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
