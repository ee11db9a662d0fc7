"""What the Context page and ``/api/context`` do to an index: search it (the chunks a
prompt would get, with their scores, and the context assembled from them), re-embed it
or one document from the stored text, and delete a document. The two changes need a
reason and are recorded in the audit log by the core (``retrieval.reindex``,
``retrieval.delete``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from llmopt.config import check_reason
from llmopt.errors import ConfigError, FieldProblem, RecordNotFound
from llmopt.store import Store

from .indexes import load_retrieval, open_index, remember, retriever_for

if TYPE_CHECKING:
    from llmopt.retrieval import ReindexReport, RetrievedContext, SearchHit, SearchMode

MODES: Final = ("hybrid", "lexical", "vector")
TOP_K_MAX: Final = 50
MAX_TOKENS_MAX: Final = 32_000
CONTEXT_MODEL: Final = "claude-sonnet-4-6"
REASON_REQUIRED = "Say why, for the audit log: changing an index needs a reason."


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The ``top_k`` hits, best first, and the context assembled from them (stable
    order) within ``max_tokens``; ``in_context`` the chunk ids the context holds."""

    index: str
    query: str
    mode: str
    hits: list[SearchHit]
    context: RetrievedContext

    @property
    def in_context(self) -> set[str]:
        return {hit.chunk.chunk_id for hit in self.context.hits}


def search(index: str, query: str, *, top_k: int, max_tokens: int, mode: str) -> SearchResult:
    """Search index ``index`` and assemble the context a prompt would carry.

    Raises ``RecordNotFound`` for an unknown index, ``ConfigError`` when the extra is
    missing or a search would use another embedding model than the index's (field
    ``mode``: lexical search still works) or arguments are out of range."""
    retrieval = load_retrieval()
    from llmopt.tokens import TokenCounter

    problems = []
    if not query.strip():
        problems.append(FieldProblem("query", "Type what to search for."))
    if not 1 <= top_k <= TOP_K_MAX:
        problems.append(FieldProblem("top_k", f"top_k must be from 1 to {TOP_K_MAX}."))
    if not 1 <= max_tokens <= MAX_TOKENS_MAX:
        problems.append(
            FieldProblem("max_tokens", f"The token budget must be from 1 to {MAX_TOKENS_MAX}.")
        )
    if mode not in MODES:
        problems.append(FieldProblem("mode", f"mode must be one of {', '.join(MODES)}."))
    if problems:
        raise ConfigError(problems)
    retriever = retriever_for(open_index(index))
    try:
        hits = retriever.semantic_search(query, top_k, mode=cast("SearchMode", mode))
    except retrieval.EmbedderMismatchError as exc:
        raise ConfigError([FieldProblem("mode", str(exc))]) from None
    counter = TokenCounter()
    context = retrieval.assemble_context(
        hits,
        max_tokens=max_tokens,
        count=lambda text: counter.count_tokens(text, CONTEXT_MODEL),
        order="stable",
    )
    return SearchResult(index, query, mode, hits, context)


def _reason(reason: str) -> str:
    if not reason.strip():
        raise ConfigError([FieldProblem("reason", REASON_REQUIRED)])
    return check_reason(reason)


def reindex(
    store: Store, index: str, *, document: str = "", actor: str, reason: str
) -> ReindexReport:
    """Re-embed index ``index`` (or its ``document``) from the stored text with the
    default embedding model; audited by the core as ``retrieval.reindex``. Raises
    ``ConfigError`` for a missing reason (or a refused one), ``RecordNotFound`` for an
    unknown index or document."""
    retrieval = load_retrieval()
    _reason(reason)
    opened = open_index(index)
    try:
        report: ReindexReport = retriever_for(opened, store).reindex(
            document or None, actor=actor, reason=reason
        )
    except retrieval.EmbedderMismatchError as exc:
        raise ConfigError([FieldProblem("document", str(exc))]) from None
    remember(opened)
    return report


def delete_document(store: Store, index: str, document: str, *, actor: str, reason: str) -> int:
    """Delete ``document``'s chunks from index ``index``; audited by the core as
    ``retrieval.delete``. Returns how many chunks went. Raises ``ConfigError`` for a
    missing reason, ``RecordNotFound`` for an unknown index or document."""
    _reason(reason)
    opened = open_index(index)
    if document not in opened.document_ids():
        raise RecordNotFound(f"index {index!r} holds no document {document!r}")
    removed = retriever_for(opened, store).delete_document(document, actor=actor, reason=reason)
    remember(opened)
    return removed


def heading_path(metadata: Any) -> str:
    """A chunk's heading path as the page shows it: ``Guide › Install``."""
    path = metadata.get("heading_path") if hasattr(metadata, "get") else None
    if isinstance(path, list | tuple):
        return " › ".join(str(part) for part in path)
    return ""
