"""``Cache-Control: no-store`` on every response the console renders (not static files).

Pages, fragments and API answers show configuration, audit records and, once, new
passwords and tokens: no browser or proxy cache should keep any of them, and the back
button after signing out should not bring them back.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(self.static):
            add_never_cache_headers(response)
        return response
