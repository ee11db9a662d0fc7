"""``LLMOptRetriever``: a :class:`ContextRetriever` as a LangChain ``BaseRetriever``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from llmopt.retrieval._records import SearchMode

if TYPE_CHECKING:
    from llmopt.retrieval._retriever import ContextRetriever


class LLMOptRetriever(BaseRetriever):
    """Drops a :class:`ContextRetriever` into LangChain chains (``retriever | format``).

    Returns the ``top_k`` best chunks as ``Document``s with ``score``,
    ``vector_score`` and ``lexical_score`` in their metadata. Get one with
    :meth:`ContextRetriever.as_retriever`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    context_retriever: Any
    top_k: int = 5
    filters: dict[str, Any] | None = None
    mode: SearchMode = "hybrid"

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        retriever: ContextRetriever = self.context_retriever
        hits = retriever.semantic_search(query, self.top_k, filters=self.filters, mode=self.mode)
        return [hit.as_document() for hit in hits]
