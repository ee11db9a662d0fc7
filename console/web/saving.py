"""Saving a settings form through the core, as every settings page does: the core checks
it (problems beside their fields, 422, nothing written), a stale revision is refused
(409 with a notice), and a save redirects with a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from llmopt.config import load_document
from llmopt.errors import ConfigError, ConflictError
from llmopt.store import Store

CONFLICT = (
    "The configuration was changed by someone else after you opened this page; nothing "
    "was saved. Reload to see their change, then apply yours again."
)


class ProblemForm(Protocol):
    def add_problems(self, exc: ConfigError) -> None: ...


def posted_entry(request: HttpRequest, store: Store) -> tuple[str, int]:
    """The entry key a per-entry form posted and its 1-based place in the document (the
    page numbers its forms so their ids stay unique). ``Http404`` for a key that is no
    entry; ``StoreError`` when the document cannot be read."""
    keys = [entry.key for entry in load_document(store).entries]
    key = request.POST.get("entry", "")
    if key not in keys:
        raise Http404(f"no llm entry with key {key[:100]!r}")
    return key, keys.index(key) + 1


def save_form(
    request: HttpRequest,
    form: ProblemForm,
    save: Callable[[], Any],
    *,
    failed: Callable[..., HttpResponse],
    saved: str,
    then: str,
) -> HttpResponse:
    """Run ``save()``; on a conflict ``failed(notice=CONFLICT, status=409)``, on the
    core's problems ``failed(status=422)`` with them beside their fields; else the
    ``saved`` message and a redirect to the ``then`` URL name."""
    try:
        save()
    except ConflictError:
        return failed(notice=CONFLICT, status=409)
    except ConfigError as exc:
        form.add_problems(exc)
        return failed(status=422)
    messages.success(request, saved)
    return redirect(then)
