"""Context retrieval for prompts (RAG): hybrid search and a token-bounded, stable context.

``ContextRetriever`` chunks documents (``llmopt.chunking``), embeds them (WordLlama
offline by default, or any LangChain ``Embeddings``) and keeps them in a
``VectorIndex``; it searches by BM25, by cosine similarity or both fused by reciprocal
rank, filters on metadata, and assembles the best chunks that fit a token budget in a
fixed document order so the prompt cache can reuse the context. ``docs/retrieval.md``
explains the design.

=========================  ========================================================
name                       use it to
=========================  ========================================================
``ContextRetriever``       index, search and assemble context
``LLMOptRetriever``        use it in LangChain chains (``as_retriever()``)
``VectorIndex``            the storage protocol the backends implement
``SQLiteVectorIndex``      store an index in one SQLite file (one machine)
``ArangoVectorIndex``      store it in ArangoDB (needs ``llmopt[arango]``; lazy)
``default_index_path``     where an index lives by default (beside the store)
``reciprocal_rank_fusion`` fuse rankings whose scores are not comparable
``SearchHit``              a found chunk with its scores
``RetrievedContext``       the assembled context: text, chunks used, token count
``IndexReport``            what an indexing call changed and embedded
``IndexedChunk``           a stored chunk
``list_indexes``           the SQLite indexes beside the store, without loading them
``read_index_info``        what one index file holds (``IndexInfo``, ``DocumentInfo``)
``ReindexReport``          what re-embedding an index or a document did
``EmbedderMismatchError``  an index searched with another embedding model than its own
``ACTION_REINDEX``         the audit actions of ``reindex`` and ``delete_document``
``ACTION_DELETE_DOCUMENT``
=========================  ========================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmopt.retrieval._assembly import assemble_context
from llmopt.retrieval._catalog import list_indexes, read_document_infos, read_index_info
from llmopt.retrieval._fusion import reciprocal_rank_fusion
from llmopt.retrieval._langchain import LLMOptRetriever
from llmopt.retrieval._protocol import VectorIndex
from llmopt.retrieval._records import (
    DocumentInfo,
    IndexedChunk,
    IndexInfo,
    IndexReport,
    ReindexReport,
    RetrievedContext,
    SearchHit,
    SearchMode,
)
from llmopt.retrieval._retriever import (
    ACTION_DELETE_DOCUMENT,
    ACTION_REINDEX,
    DEFAULT_EMBEDDER,
    ContextRetriever,
    EmbedderMismatchError,
    embedder_name,
)
from llmopt.retrieval._sqlite import SQLiteVectorIndex, default_index_path

if TYPE_CHECKING:
    from llmopt.retrieval._arango import ArangoVectorIndex

__all__ = [
    "ACTION_DELETE_DOCUMENT",
    "ACTION_REINDEX",
    "ArangoVectorIndex",
    "ContextRetriever",
    "DEFAULT_EMBEDDER",
    "DocumentInfo",
    "EmbedderMismatchError",
    "IndexInfo",
    "IndexReport",
    "IndexedChunk",
    "LLMOptRetriever",
    "ReindexReport",
    "RetrievedContext",
    "SQLiteVectorIndex",
    "SearchHit",
    "SearchMode",
    "VectorIndex",
    "assemble_context",
    "default_index_path",
    "embedder_name",
    "list_indexes",
    "read_document_infos",
    "read_index_info",
    "reciprocal_rank_fusion",
]


def __getattr__(name: str) -> Any:
    if name == "ArangoVectorIndex":  # python-arango (the arango extra) loads on use
        from llmopt.retrieval._arango import ArangoVectorIndex

        return ArangoVectorIndex
    raise AttributeError(f"module 'llmopt.retrieval' has no attribute {name!r}")
