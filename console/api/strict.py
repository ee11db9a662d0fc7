"""What an API request body may hold: exactly the declared fields, each of its own JSON type.

Every body schema derives from :class:`InputSchema`: a field it does not declare is
refused by name (``extra="forbid"``), and no value is coerced (``strict``): ``"yes"``,
``"1"``, ``1`` and ``"True"`` are not ``true``, ``"5"`` and ``true`` are not ``5``. Free
text uses :data:`Reason` (the core's free-text rule). All are 422 in the error
envelope, each problem beside its field (``console.api.errors``). Media type and size
are checked before any of this (``console.body_limits``).
"""

from __future__ import annotations

from typing import Annotated

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
