"""Turn pydantic's validation errors into short sentences a person can act on, per field."""

from __future__ import annotations

from pydantic import ValidationError

from llmopt.errors import FieldProblem

# One sentence per flag says what a valid value is, whatever pydantic's error type was:
# "must be true or false" helps an admin more than "Input should be a valid boolean".
FIELD_RULES: dict[str, str] = {
    "optimizationEnabled": "optimizationEnabled must be true or false",
    "batchingEnabled": "batchingEnabled must be true or false",
    "batchMaxSize": "batchMaxSize must be a whole number from 1 to 100,000 requests",
    "batchTimeout": "batchTimeout must be a whole number of seconds from 1 to 3,600",
    "cachingEnabled": "cachingEnabled must be true or false",
    "cacheTTL": (
        "cacheTTL must be 300 or 3600 seconds (the provider offers no other lifetime), "
        "or 'auto' to choose per prefix from its observed re-use gaps"
    ),
    "cacheSystemTTL": (
        "cacheSystemTTL must be 300 or 3600 seconds, or null for the same as cacheTTL"
    ),
    "cacheBreakpoints": "cacheBreakpoints must be one of 'auto', 'system_only' or 'manual'",
    "cacheMinTokens": (
        "cacheMinTokens must be a whole number of tokens from 1 to 1,000,000, "
        "or null for the model's own minimum"
    ),
    "fallbackToStandard": "fallbackToStandard must be true or false",
    "logFallbacks": "logFallbacks must be true or false",
    "optimizationStrategy": (
        "optimizationStrategy must be one of 'auto', 'batch_only', 'cache_only' or 'both'"
    ),
}

_MAX_SHOWN = 40


def describe_value(value: object) -> str:
    """A short, safe rendering of a rejected value for an error message."""
    text = "null" if value is None else repr(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def problems_from_validation_error(exc: ValidationError) -> list[FieldProblem]:
    """One :class:`FieldProblem` per invalid field of :class:`OptimizationConfig`.

    Several pydantic errors on one field (a union, say) become one sentence.
    """
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in seen:
            continue
        seen.add(field)
        rule = FIELD_RULES.get(field)
        if rule is None:
            problems.append(FieldProblem(field, f"{field or 'the configuration'}: {error['msg']}"))
        else:
            problems.append(FieldProblem(field, f"{rule} (got {describe_value(error['input'])})"))
    return problems
