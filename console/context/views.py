"""The Context page: the retrieval indexes beside the store with their sizes, embedding
model and freshness, each index's documents with their last write (live); a search that
shows the chunks a prompt would get with their three scores and the assembled context
with its token count; and, for operators, re-indexing (a whole index or one document)
and deleting a document, each with a reason, audited (``retrieval.reindex``,
``retrieval.delete``).

One view serves the page and its live fragment (``request.htmx``); the search serves the
page or, for htmx, its results fragment. The changes are POSTs to their own URLs, which
redirect back with what they did, or render the page with the form's problems.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from llmopt.errors import ConfigError, RecordNotFound

from ..roles import EDIT, VIEW
from ..store import get_store
from ..web.access import AuthedRequest, requires
from ..web.polling import Poll
from .actions import SearchResult, delete_document, heading_path, reindex, search
from .forms import DeleteDocumentForm, ReindexForm, SearchForm
from .indexes import HOW_TO_CREATE, context_overview

logger = logging.getLogger("console.context")

PAGE = "console/context/page.html"
CONTEXT_LIVE = Poll(visible="10s", hidden="60s")


def _live_context() -> dict[str, Any]:
    return {
        "overview": context_overview(),
        "how_to_create": HOW_TO_CREATE,
        "poll": CONTEXT_LIVE,
        "live_url": reverse("context"),
    }


def _page(
    request: AuthedRequest,
    *,
    search_form: SearchForm | None = None,
    result: SearchResult | None = None,
    reindex_form: ReindexForm | None = None,
    delete_form: DeleteDocumentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    live = _live_context()
    names = live["overview"].names
    initial = {"index": names[0]} if names else {}
    context = {
        **live,
        "search_form": search_form or SearchForm(initial=initial),
        "result": result,
        "rows": _rows(result),
        "reindex_form": reindex_form or ReindexForm(initial=initial),
        "delete_form": delete_form or DeleteDocumentForm(initial=initial),
        "can_edit": request.user.has_perm(EDIT),
    }
    return render(request, PAGE, context, status=status)


def _rows(result: SearchResult | None) -> list[dict[str, Any]]:
    """Each hit as the results table shows it."""
    if result is None:
        return []
    chosen = result.in_context
    return [
        {
            "rank": rank,
            "hit": hit,
            "source": hit.chunk.source,
            "headings": heading_path(hit.chunk.metadata),
            "start": hit.chunk.start_index,
            "end": hit.chunk.metadata.get("end_index", hit.chunk.start_index + len(hit.chunk.text)),
            "in_context": hit.chunk.chunk_id in chosen,
        }
        for rank, hit in enumerate(result.hits, start=1)
    ]


def _add_problems(form: Form, exc: ConfigError, fields: dict[str, str] | None = None) -> None:
    """Each of the actions' problems beside its field (``fields`` renames them)."""
    for problem in exc.problems:
        name = (fields or {}).get(problem.field, problem.field)
        form.add_error(name if name in form.fields else None, problem.message)


@requires(VIEW)
@require_GET
@vary_on_headers("HX-Request")
def context(request: AuthedRequest) -> HttpResponse:
    """The Context page, or (for htmx) its live list of indexes."""
    if request.htmx:
        return render(request, f"{PAGE}#context-live", _live_context())
    return _page(request)


@requires(VIEW)
@require_GET
@vary_on_headers("HX-Request")
def context_search(request: AuthedRequest) -> HttpResponse:
    """Search an index: the page with the results, or (for htmx) the results alone.
    Problems are shown beside the fields (422 for the page; 200 for htmx, which swaps
    only successful answers)."""
    form = SearchForm(request.GET)
    result = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = search(
                data["index"],
                data["q"],
                top_k=data["top_k"],
                max_tokens=data["max_tokens"],
                mode=data["mode"],
            )
        except RecordNotFound as exc:
            form.add_error("index", str(exc))
        except ConfigError as exc:
            _add_problems(form, exc, {"query": "q"})
    status = 200 if result is not None else 422
    if request.htmx:
        context = {"search_form": form, "result": result, "rows": _rows(result)}
        return render(request, f"{PAGE}#search-results", context)
    return _page(request, search_form=form, result=result, status=status)


@requires(EDIT)
@require_POST
def context_reindex(request: AuthedRequest) -> HttpResponse:
    """Re-embed a whole index or one document from the stored text, with a reason;
    audited (``retrieval.reindex``) with what was re-embedded."""
    form = ReindexForm(request.POST)
    if not form.is_valid():
        return _page(request, reindex_form=form, status=422)
    data = form.cleaned_data
    try:
        report = reindex(
            get_store(),
            data["index"],
            document=data["document"],
            actor=request.user.get_username(),
            reason=data["reason"],
        )
    except RecordNotFound as exc:
        form.add_error("document" if data["document"] else "index", str(exc))
        return _page(request, reindex_form=form, status=422)
    except ConfigError as exc:
        _add_problems(form, exc)
        return _page(request, reindex_form=form, status=422)
    which = f"{data['document']} in {data['index']}" if data["document"] else data["index"]
    messages.success(
        request,
        f"Re-indexed {which}: {report.chunks} chunk{'' if report.chunks == 1 else 's'} of "
        f"{report.documents} document{'' if report.documents == 1 else 's'} embedded again "
        f"with {report.embedder}.",
    )
    return redirect("context")


@requires(EDIT)
@require_POST
def context_delete(request: AuthedRequest) -> HttpResponse:
    """Delete one document of an index, with a reason; audited (``retrieval.delete``)
    with how many chunks went."""
    form = DeleteDocumentForm(request.POST)
    if not form.is_valid():
        return _page(request, delete_form=form, status=422)
    data = form.cleaned_data
    try:
        removed = delete_document(
            get_store(),
            data["index"],
            data["document"],
            actor=request.user.get_username(),
            reason=data["reason"],
        )
    except RecordNotFound as exc:
        form.add_error("document", str(exc))
        return _page(request, delete_form=form, status=422)
    except ConfigError as exc:
        _add_problems(form, exc)
        return _page(request, delete_form=form, status=422)
    messages.success(
        request,
        f"Deleted {data['document']} from {data['index']}: "
        f"{removed} chunk{'' if removed == 1 else 's'} removed.",
    )
    return redirect("context")
