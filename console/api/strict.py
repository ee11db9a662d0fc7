"""What an API request body may be: JSON, with exactly the declared fields, each of its
own JSON type.

=====================================  ======  ==========================================
body                                   status  checked by
=====================================  ======  ==========================================
over 64 KiB                            413     ``console.web.body_limits``, from the headers
not ``application/json`` in UTF-8      415     :func:`require_json_body`, on every
                                               operation before its auth and parameters
a field the schema does not declare    422     :class:`InputSchema` (``extra="forbid"``)
a value of another JSON type           422     :class:`InputSchema` (``strict``):
                                               ``"yes"``, ``"1"``, ``1``, ``"True"`` are
                                               not ``true``; ``"5"``, ``true`` not ``5``
free text the core's rule refuses      422     :data:`Reason`
=====================================  ======  ==========================================

Every one answers in the error envelope (a 422 with each problem beside its field,
``console.api.errors``), and nothing is written.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from ninja import Schema
from pydantic import AfterValidator, ConfigDict, WithJsonSchema
from pydantic_core import PydanticCustomError

from llmopt.config import REASON_MAX_LENGTH, REFUSED_CHARACTERS_PATTERN, free_text_problem


class InputSchema(Schema):
    """The base of every API body schema: strict types, no undeclared fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _reason(value: str) -> str:
    problem = free_text_problem(value, field="reason", max_length=REASON_MAX_LENGTH)
    if problem is not None:
        raise PydanticCustomError("free_text", problem)
    return value


Reason = Annotated[
    str,
    AfterValidator(_reason),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": REASON_MAX_LENGTH,
            "pattern": REFUSED_CHARACTERS_PATTERN,
            "description": f"Why, for the audit log: at most {REASON_MAX_LENGTH} characters, "
            "no control or bidirectional-override characters",
        }
    ),
]
"""A change's reason, checked by the core's free-text rule (``llmopt.config``)."""


JSON = "application/json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def require_json_body(
    run: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """A ninja ``view`` decorator (``api.add_decorator(require_json_body, mode="view")``):
    an operation sent a body that is not JSON answers 415 and runs nothing.

    An empty body is fine (an operation whose body is optional). Without this, ninja
    parses any body as JSON whatever its declared type, so a ``text/plain`` or form
    body would be applied.
    """

    @functools.wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method in _BODY_METHODS and _has_body(request) and not _is_json(request):
            sent = request.META.get("CONTENT_TYPE") or "no Content-Type"
            detail = (
                f"the request body must be JSON sent as Content-Type: {JSON} (UTF-8), "
                f"not {sent[:80]}; nothing was changed"
            )
            return JsonResponse({"detail": detail}, status=415)
        return run(request, *args, **kwargs)

    return checked


def _has_body(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return False


def _is_json(request: HttpRequest) -> bool:
    charset = (request.content_params or {}).get("charset", "utf-8")
    return request.content_type == JSON and charset.lower() in ("utf-8", "utf8")
