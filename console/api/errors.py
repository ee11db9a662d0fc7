"""The API's one error envelope, ``{"detail": ...}``, and the handlers that produce it."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, ValidationError

from llmopt.errors import ConfigError, ConflictError, RecordNotFound, StoreError

if TYPE_CHECKING:
    from ninja import NinjaAPI

logger = logging.getLogger("console.api")


class Error(Schema):
    """Every error but a validation one: a sentence saying what went wrong."""

    detail: str


# What a read of the API can answer besides its data: not signed in, not allowed, the
# store unreadable.
READ_ERRORS: dict[int, Any] = {401: Error, 403: Error, 503: Error}


class FieldMessage(Schema):
    """One problem with one field (``""`` for the request or configuration as a whole)."""

    field: str
    message: str


class ValidationErrors(Schema):
    """422: every problem found, each beside its field; nothing was written."""

    detail: list[FieldMessage]


class Conflict(Schema):
    """409: someone saved first; ``revision`` is the current one to re-read and retry with."""

    detail: str
    revision: str | None = None


def register_error_handlers(api: NinjaAPI) -> None:
    """Map llmopt's errors and ninja's own onto the envelope, with their status codes."""

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        # ninja's own "Unauthorized" means no credential at all; ours say what was wrong.
        message = exc.message if exc.message != "Unauthorized" else ""
        detail = message or "sign in or send an API token to use the console API"
        return api.create_response(request, {"detail": detail}, status=401)

    @api.exception_handler(ValidationError)
    def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        detail = []
        for error in exc.errors:
            field = _field_of(error.get("loc", ()))
            detail.append({"field": field, "message": _message(error, field)})
        return api.create_response(request, {"detail": detail}, status=422)

    @api.exception_handler(ConfigError)
    def invalid_config(request: HttpRequest, exc: ConfigError) -> HttpResponse:
        detail = [{"field": p.field, "message": p.message} for p in exc.problems]
        return api.create_response(request, {"detail": detail}, status=422)

    @api.exception_handler(ConflictError)
    def conflict(request: HttpRequest, exc: ConflictError) -> HttpResponse:
        body = {"detail": str(exc), "revision": exc.current_revision}
        return api.create_response(request, body, status=409)

    @api.exception_handler(RecordNotFound)
    def not_found(request: HttpRequest, exc: RecordNotFound) -> HttpResponse:
        return api.create_response(request, {"detail": str(exc)}, status=404)

    @api.exception_handler(StoreError)
    def store_unavailable(request: HttpRequest, exc: StoreError) -> HttpResponse:
        logger.error("api: store unavailable: %s", exc)
        return api.create_response(request, {"detail": f"the store failed: {exc}"}, status=503)


# Sentences for the mistakes callers make most, naming the field; pydantic's own otherwise.
_MESSAGES = {
    "extra_forbidden": "{name} is not a field of this request; send only the documented fields",
    "bool_type": "{name} must be true or false (a JSON boolean), not {value}",
    "int_type": "{name} must be a whole number (a JSON number), not {value}",
    "string_type": "{name} must be a string, not {value}",
    "dict_type": "{name} must be a JSON object, not {value}",
    "model_type": "{name} must be a JSON object, not {value}",
    "missing": "{name} is required",
}
_SHOWN = 40


def _message(error: Mapping[str, Any], field: str) -> str:
    template = _MESSAGES.get(str(error.get("type")))
    if template is None:
        return str(error.get("msg", ""))
    value = json.dumps(error.get("input"), default=str)
    if len(value) > _SHOWN:
        value = value[: _SHOWN - 1] + "…"
    return template.format(name=field or "the body", value=value)


def _field_of(loc: object) -> str:
    # ninja's locations start with where the value came from ("body", "query", ...).
    parts = [str(part) for part in loc][1:] if isinstance(loc, list | tuple) else []
    if parts and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts)
