"""Instruction text that does not depend on the task: step-by-step reasoning and
structured output (a JSON schema or a pydantic model turned into a sentence and the
schema itself).

The schema is written as canonical JSON (keys sorted, fixed indentation), so the same
schema gives the same bytes whichever order its dicts were built in; it sits in the
stable part of a prompt and must not break the cached prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from llmopt.prompts._problems import invalid

OutputSchema = Mapping[str, Any] | type[BaseModel]
"""A JSON schema (as a dict) or a pydantic model class."""

CHAIN_OF_THOUGHT = (
    "Think the problem through step by step before answering: restate what is asked, "
    "work through it one step at a time, and check the result before giving it."
)
CHAIN_OF_THOUGHT_BEFORE_JSON = (
    "Think the problem through step by step first, inside <thinking></thinking> tags. "
    "After the closing tag, give only the JSON object."
)


def schema_of(output_schema: object) -> dict[str, Any]:
    """The JSON schema of ``output_schema`` (a dict, or a pydantic model class).

    Raises :class:`~llmopt.errors.ConfigError` (on ``output_schema``) for anything else,
    an empty schema, or one that is not JSON.
    """
    if isinstance(output_schema, type) and issubclass(output_schema, BaseModel):
        return output_schema.model_json_schema()
    if isinstance(output_schema, BaseModel):
        name = type(output_schema).__name__
        raise invalid(
            "output_schema",
            f"output_schema must be the model class, not an instance: pass {name} itself",
        )
    if not isinstance(output_schema, Mapping):
        kind = type(output_schema).__name__
        raise invalid(
            "output_schema",
            f"output_schema must be a JSON schema (a dict) or a pydantic model class, not {kind}",
        )
    if not output_schema:
        raise invalid("output_schema", "output_schema is empty: give the schema's properties")
    schema = dict(output_schema)
    try:
        json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise invalid("output_schema", f"output_schema is not JSON: {exc}") from exc
    return schema


def output_instruction(schema: Mapping[str, Any]) -> str:
    """The instruction asking for one JSON object that validates against ``schema``."""
    text = json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False)
    return (
        "Reply with one JSON object that validates against this JSON Schema, with no text "
        "before or after it and no Markdown fence around it:\n\n"
        f"```json\n{text}\n```"
    )
