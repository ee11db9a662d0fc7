"""Request bodies the console refuses before any view, or any other middleware, reads them.

=====================================  ======  =============================================
request                                status  answer
=====================================  ======  =============================================
an API body over ``API_MAX_BODY_BYTES``  413   the API's envelope, ``{"detail": ...}``
a page's body over Django's            413     a page saying so (``413.html``)
``DATA_UPLOAD_MAX_MEMORY_SIZE``
an API body (POST, PUT, PATCH,         415     the envelope: send ``application/json``
DELETE) that is not JSON in UTF-8
=====================================  ======  =============================================

Judged from the request's headers alone (``Content-Length``, ``Content-Type``), so an
oversized body is never read, and before authentication, as a proxy in front would:
a caller learns only what the API documents anyway. Nothing is written on any of them.
Without this, Django raises ``RequestDataTooBig`` where a view first reads the body (a
500 under the API, a bare 400 page elsewhere), and the API parses any body as JSON
whatever its declared type.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .api.envelope import API_PREFIX

API_MAX_BODY_BYTES = 64 * 1024
"""The largest API request body: a flag edit is well under 1 KiB."""
JSON = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestBodyLimitMiddleware:
    """413 for a body over its limit, 415 for an API body that is not JSON; see the module."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        size = _content_length(request)
        api = request.path_info.startswith(API_PREFIX)
        limit = API_MAX_BODY_BYTES if api else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and size > limit:
            if api:
                detail = f"the request body is {size:,} bytes; the API takes at most {limit:,}"
                return JsonResponse({"detail": detail}, status=413)
            context = {"size": size, "limit": limit}
            return render(request, "413.html", context, status=413)
        if api and size > 0 and request.method in _BODY_METHODS and not _is_json(request):
            sent = request.META.get("CONTENT_TYPE") or "no Content-Type"
            detail = (
                f"the request body must be JSON sent as Content-Type: {JSON} "
                f"(UTF-8), not {sent[:80]}; nothing was changed"
            )
            return JsonResponse({"detail": detail}, status=415)
        return self.get_response(request)


def _content_length(request: HttpRequest) -> int:
    # As Django reads it: a missing or malformed length is an empty body.
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _is_json(request: HttpRequest) -> bool:
    charset = (request.content_params or {}).get("charset", "utf-8")
    return request.content_type == JSON and charset.lower() in ("utf-8", "utf8")
