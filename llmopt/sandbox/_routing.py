"""Requests, responses and the router that maps (method, path) to an endpoint handler.

Handlers are plain functions ``(Request, SandboxState) -> Response`` that raise
:class:`ApiError` for error responses; the router turns those (and unexpected
exceptions, as 500 ``api_error``) into the error envelope of the API the path belongs
to: Anthropic's, OpenAI's under ``/v1/chat/``, Ollama's under ``/api/``. Add an endpoint with
:meth:`Router.add`; a ``{name}`` segment in the path becomes ``request.path_params[name]``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from llmopt.sandbox import _errors as msg
from llmopt.sandbox._errors import Api, ApiError, api_for_path, render_error

if TYPE_CHECKING:
    from llmopt.sandbox._state import SandboxState

logger = logging.getLogger("llmopt.sandbox")


@dataclass(eq=False)
class Request:
    """One HTTP request: ``headers`` have lower-case names."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON; raises a 400 :class:`ApiError` when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ApiError(
                "invalid_request_error", msg.BODY_NOT_JSON.format(detail=error)
            ) from None


@dataclass
class Response:
    """A response: a whole ``body``, or a ``stream`` of chunks sent as they come."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterable[bytes] | None = None
    close: bool = False

    @classmethod
    def json(cls, status: int, data: Any, headers: Mapping[str, str] | None = None) -> Response:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(status, {"content-type": "application/json", **(headers or {})}, body)

    @classmethod
    def error(cls, error: ApiError, request_id: str, api: Api = "anthropic") -> Response:
        """``error`` in ``api``'s envelope, with its status and headers."""
        status, body, headers = render_error(error, request_id, api)
        return cls.json(status, body, headers)


Handler = Callable[[Request, "SandboxState"], Response]


@dataclass(frozen=True)
class Route:
    """An endpoint: ``max_body_bytes`` overrides the server's request size limit."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    max_body_bytes: int | None = None


class Router:
    """The sandbox's endpoints, matched in the order they were added."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self, method: str, path: str, handler: Handler, *, max_body_bytes: int | None = None
    ) -> None:
        """Serve ``method`` ``path`` (``{name}`` matches one path segment) with ``handler``."""
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        self._routes.append(
            Route(method.upper(), re.compile(f"^{regex}$"), handler, max_body_bytes)
        )

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for ``method`` and ``path`` with its path parameters, or None."""
        for route in self._routes:
            match = route.pattern.match(path)
            if match and route.method == method.upper():
                return route, match.groupdict()
        return None

    def dispatch(self, request: Request, state: SandboxState) -> Response:
        """Run the handler for ``request``; error envelopes for every failure."""
        api = api_for_path(request.path)
        found = self.find(request.method, request.path)
        if found is None:
            missing = msg.ROUTE_NOT_FOUND
            if api == "openai":
                missing = msg.OPENAI_INVALID_URL.format(method=request.method, path=request.path)
            return Response.error(ApiError("not_found_error", missing), request.request_id, api)
        route, params = found
        request.path_params = params
        try:
            response = route.handler(request, state)
        except ApiError as error:
            return Response.error(error, request.request_id, api)
        except Exception:
            logger.exception("sandbox handler failed on %s %s", request.method, request.path)
            failure = ApiError("api_error", msg.INTERNAL_ERROR)
            return Response.error(failure, request.request_id, api)
        response.headers.setdefault("request-id", request.request_id)
        return response
