"""Failures under ``/api/`` that Django answers itself, in the API's error envelope too.

ninja's handlers (``console.api.errors``) cover what reaches an operation. A path with
no operation, a method an operation does not take and an unhandled crash never do:
Django would answer them with an HTML page or plain text, which automation calling
the API cannot read. This middleware rewrites those answers as ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("console.api")

API_PREFIX = "/api/"


class ApiErrorEnvelopeMiddleware:
    """Rewrites non-JSON error responses, and crashes, under ``API_PREFIX`` as the envelope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not request.path_info.startswith(API_PREFIX)
            or response.status_code < 400
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        envelope = JsonResponse({"detail": _detail(request, response)}, status=response.status_code)
        if "Allow" in response:
            envelope["Allow"] = response["Allow"]
        return envelope

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path_info.startswith(API_PREFIX):
            return None  # Django's own 500 page and logging
        if isinstance(exc, Http404 | PermissionDenied):
            return None  # Django answers 404/403, and __call__ puts that in the envelope
        logger.exception("api: %s %s failed", request.method, request.path_info)
        detail = "internal error: the console could not answer; the failure is in its log"
        return JsonResponse({"detail": detail}, status=500)


def _detail(request: HttpRequest, response: HttpResponse) -> str:
    where = f"{request.method} {request.path_info}"
    if response.status_code == 404:
        return f"there is no API operation {where}; the operations are listed at /api/docs"
    if response.status_code == 405:
        allowed = response.get("Allow", "")
        return f"{where} is not allowed; this path takes {allowed}"
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = "error"
    return f"{where}: {phrase.lower()}"
