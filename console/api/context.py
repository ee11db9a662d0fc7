"""``/api/context``: the retrieval indexes beside the store (documents, chunks, embedding
model, size, freshness); searching one (the chunks found with their scores and the
context assembled from them); re-indexing and deleting documents (audited)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from ninja import Field, Router, Schema
from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from llmopt.config import REFUSED_CHARACTERS_PATTERN, free_text_problem

from ..context.actions import (
    MAX_TOKENS_MAX,
    TOP_K_MAX,
    delete_document,
    reindex,
    search,
)
from ..context.forms import DOCUMENT_MAX_LENGTH, QUERY_MAX_LENGTH
from ..context.indexes import HOW_TO_CREATE, context_overview
from ..roles import EDIT, VIEW
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth, actor
from .errors import READ_ERRORS, Error, ValidationErrors
from .strict import InputSchema, Reason

if TYPE_CHECKING:
    from llmopt.retrieval import SearchHit

router = Router(tags=["context"], auth=RoleAuth(VIEW))


def _free_text(name: str, max_length: int) -> AfterValidator:
    def check(value: str) -> str:
        problem = free_text_problem(value, field=name, max_length=max_length)
        if problem is not None:
            raise PydanticCustomError("free_text", problem)
        return value

    return AfterValidator(check)


def _schema(max_length: int, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "maxLength": max_length,
            "pattern": REFUSED_CHARACTERS_PATTERN,
            "description": description,
        }
    )


Query = Annotated[
    str, _free_text("query", QUERY_MAX_LENGTH), _schema(QUERY_MAX_LENGTH, "What to search for")
]
DocumentId = Annotated[
    str,
    _free_text("document", DOCUMENT_MAX_LENGTH),
    _schema(DOCUMENT_MAX_LENGTH, "A document id of the index (blank: the whole index)"),
]


class DocumentOut(Schema):
    """One document of an index: its chunks and when they were last written."""

    id: str
    chunks: int
    indexedAt: datetime | None


class IndexOut(Schema):
    """One index: ``embedder`` is the embedding model that made its vectors (``null``:
    not recorded), ``sizeBytes`` its file with the WAL, ``lastIndexed`` its latest
    document write."""

    name: str
    documents: int
    chunks: int
    dimensions: int | None
    embedder: str | None
    sizeBytes: int | None
    lastIndexed: datetime | None
    documentList: list[DocumentOut]


class ContextOut(Schema):
    """The indexes beside the store. ``available`` is false when ``llmopt[retrieval]``
    is not installed where the console runs (``detail`` says so); ``howToCreate`` is
    the Python that creates an index."""

    available: bool
    detail: str
    folder: str
    howToCreate: str
    indexes: list[IndexOut]


class SearchIn(InputSchema):
    """What to look for, how many chunks (``topK``), the context's token budget
    (``maxTokens``) and the mode: ``lexical`` (BM25), ``vector`` (cosine) or
    ``hybrid`` (both, fused by reciprocal rank)."""

    query: Query
    topK: int = Field(8, ge=1, le=TOP_K_MAX)
    maxTokens: int = Field(2000, ge=1, le=MAX_TOKENS_MAX)
    mode: Literal["hybrid", "lexical", "vector"] = "hybrid"


class HitOut(Schema):
    """A chunk found: its source, heading path and character offsets in the document;
    ``score`` the fused (or single-mode) score, ``vectorScore`` the cosine similarity,
    ``lexicalScore`` the BM25 score (``null`` when that mode did not find it);
    ``inContext`` whether the assembled context holds it (within the budget)."""

    chunkId: str
    documentId: str
    source: str
    headingPath: list[str]
    start: int
    end: int
    score: float
    vectorScore: float | None
    lexicalScore: float | None
    inContext: bool
    text: str


class AssembledOut(Schema):
    """The context a prompt would carry: its text (stable document order), its token
    count and the budget, and the chunks it holds."""

    text: str
    tokenCount: int
    maxTokens: int
    chunkIds: list[str]


class SearchOut(Schema):
    index: str
    query: str
    mode: str
    hits: list[HitOut]
    context: AssembledOut


class ReindexIn(InputSchema):
    """Re-embed the whole index, or only ``document``, from the stored text; and why
    (required, for the audit log)."""

    document: DocumentId = ""
    reason: Reason


class ReindexOut(Schema):
    """What was embedded again, with which model (and the one before)."""

    index: str
    document: str | None
    documents: int
    chunks: int
    embedded: int
    embedder: str
    previousEmbedder: str | None


class DeleteIn(InputSchema):
    """Why the document goes (required, for the audit log)."""

    reason: Reason


class DeletedOut(Schema):
    index: str
    document: str
    removed: int


def _hit(hit: SearchHit, in_context: set[str]) -> HitOut:
    chunk = hit.chunk
    headings = chunk.metadata.get("heading_path")
    end = chunk.metadata.get("end_index")
    return HitOut(
        chunkId=chunk.chunk_id,
        documentId=chunk.document_id,
        source=chunk.source,
        headingPath=[str(h) for h in headings] if isinstance(headings, list) else [],
        start=chunk.start_index,
        end=end if isinstance(end, int) else chunk.start_index + len(chunk.text),
        score=hit.score,
        vectorScore=hit.vector_score,
        lexicalScore=hit.lexical_score,
        inContext=chunk.chunk_id in in_context,
        text=chunk.text,
    )


@router.get("", response={200: ContextOut, **READ_ERRORS}, summary="The retrieval indexes")
def get_context(request: AuthedRequest) -> ContextOut:
    overview = context_overview()
    return ContextOut(
        available=not overview.missing,
        detail=overview.missing,
        folder=str(overview.folder),
        howToCreate=HOW_TO_CREATE,
        indexes=[
            IndexOut(
                name=row.info.name,
                documents=row.info.documents,
                chunks=row.info.chunks,
                dimensions=row.info.dimensions,
                embedder=row.info.embedder,
                sizeBytes=row.info.size_bytes,
                lastIndexed=row.info.last_indexed,
                documentList=[
                    DocumentOut(id=d.document_id, chunks=d.chunks, indexedAt=d.indexed_at)
                    for d in row.documents
                ],
            )
            for row in overview.indexes
        ],
    )


@router.post(
    "/{index}/search",
    response={200: SearchOut, 404: Error, 422: ValidationErrors, **READ_ERRORS},
    summary="Search an index",
)
def post_search(request: AuthedRequest, index: str, payload: SearchIn) -> SearchOut:
    """The ``topK`` chunks found, best first, and the context assembled from them. 404
    for an unknown index; 422 when ``llmopt[retrieval]`` is missing or the console's
    embedding model is not the index's (``mode``: lexical still works)."""
    result = search(
        index, payload.query, top_k=payload.topK, max_tokens=payload.maxTokens, mode=payload.mode
    )
    chosen = result.in_context
    return SearchOut(
        index=index,
        query=payload.query,
        mode=payload.mode,
        hits=[_hit(hit, chosen) for hit in result.hits],
        context=AssembledOut(
            text=result.context.text,
            tokenCount=result.context.token_count,
            maxTokens=result.context.max_tokens,
            chunkIds=[hit.chunk.chunk_id for hit in result.context.hits],
        ),
    )


@router.post(
    "/{index}/reindex",
    auth=RoleAuth(EDIT),
    response={200: ReindexOut, 404: Error, 422: ValidationErrors, **READ_ERRORS},
    summary="Re-embed an index or one document",
)
def post_reindex(request: AuthedRequest, index: str, payload: ReindexIn) -> ReindexOut:
    """Embeds the stored chunks again with the console's embedding model; audited as
    ``retrieval.reindex`` with the reason and what was embedded. 404 for an unknown
    index or document."""
    report = reindex(
        get_store(), index, document=payload.document, actor=actor(request), reason=payload.reason
    )
    return ReindexOut(
        index=index,
        document=payload.document or None,
        documents=report.documents,
        chunks=report.chunks,
        embedded=report.embedded,
        embedder=report.embedder,
        previousEmbedder=report.previous_embedder,
    )


@router.delete(
    "/{index}/documents/{path:document}",
    auth=RoleAuth(EDIT),
    response={200: DeletedOut, 404: Error, 422: ValidationErrors, **READ_ERRORS},
    summary="Delete a document from an index",
)
def delete_index_document(
    request: AuthedRequest, index: str, document: str, payload: DeleteIn
) -> DeletedOut:
    """Removes the document's chunks; audited as ``retrieval.delete`` with the reason
    and how many went. 404 for an unknown index or document."""
    removed = delete_document(
        get_store(), index, document, actor=actor(request), reason=payload.reason
    )
    return DeletedOut(index=index, document=document, removed=removed)
