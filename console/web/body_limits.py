"""Request bodies too large to read: refused from the headers, before anything reads them.

=================================  ======  ============================================
request                            status  answer
=================================  ======  ============================================
an API body over                   413     the API's envelope, ``{"detail": ...}``
``API_MAX_BODY_BYTES``
a page's body over Django's        413     a page saying so (``413.html``)
``DATA_UPLOAD_MAX_MEMORY_SIZE``
=================================  ======  ============================================

Judged from ``Content-Length`` alone, so an oversized body is never read, and before
CSRF and authentication, as a proxy in front would; nothing is written. Without this,
Django raises ``RequestDataTooBig`` where something first reads the body: a 500 under
the API, a bare 400 page elsewhere. (An API body's media type is the API's own
check: ``console.api.strict``.)
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from ..api.envelope import API_PREFIX

API_MAX_BODY_BYTES = 64 * 1024
"""The largest API request body: a flag edit is well under 1 KiB."""


class RequestBodyLimitMiddleware:
    """413 for a body over its limit; see the module."""

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
        return self.get_response(request)


def _content_length(request: HttpRequest) -> int:
    # As Django reads it: a missing or malformed length is an empty body.
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0
