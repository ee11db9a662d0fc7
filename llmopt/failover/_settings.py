"""How a circuit breaker trips and recovers: the document's ``routing.circuitBreaker``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmopt.config._messages import describe_value
from llmopt.errors import ConfigError, FieldProblem

_RULES: dict[str, str] = {
    "failureThreshold": "failureThreshold must be a whole number of failures from 1 to 1,000",
    "windowSeconds": "windowSeconds must be a number of seconds above 0 and at most 86,400",
    "coolDownSeconds": "coolDownSeconds must be a number of seconds above 0 and at most 86,400",
    "halfOpenMaxCalls": "halfOpenMaxCalls must be a whole number of probe calls from 1 to 100",
}
_CAMEL = {
    "failure_threshold": "failureThreshold",
    "window_seconds": "windowSeconds",
    "cool_down_seconds": "coolDownSeconds",
    "half_open_max_calls": "halfOpenMaxCalls",
}


class CircuitBreakerSettings(BaseModel):
    """When an entry's circuit opens and how it recovers.

    ====================== ======= ===================================================
    field (camelCase)      default meaning
    ====================== ======= ===================================================
    ``failureThreshold``   5       failures (of the classes that count) within the
                                   window that open the circuit
    ``windowSeconds``      60      the sliding window those failures are counted in
    ``coolDownSeconds``    30      how long an open circuit refuses calls before one
                                   process may probe it
    ``halfOpenMaxCalls``   1       probe calls let through while half-open
    ====================== ======= ===================================================

    Build it with :meth:`from_dict` (camelCase or snake_case keys), which raises
    :class:`~llmopt.errors.ConfigError` with one sentence per bad field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)

    failure_threshold: int = Field(5, alias="failureThreshold", ge=1, le=1_000)
    window_seconds: float = Field(60.0, alias="windowSeconds", gt=0, le=86_400)
    cool_down_seconds: float = Field(30.0, alias="coolDownSeconds", gt=0, le=86_400)
    half_open_max_calls: int = Field(1, alias="halfOpenMaxCalls", ge=1, le=100)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> CircuitBreakerSettings:
        """Validate a ``circuitBreaker`` object (``None``: the defaults).

        Raises :class:`~llmopt.errors.ConfigError` listing every bad field, each named
        in camelCase: an out-of-range number, a value of the wrong type, a key that is
        not a setting.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError([FieldProblem("circuitBreaker", "circuitBreaker must be an object")])
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            raise ConfigError(_problems(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """The camelCase object, as the document holds it."""
        return self.model_dump(by_alias=True)


def _problems(exc: ValidationError) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for error in exc.errors():
        raw_field = str(error["loc"][0]) if error["loc"] else ""
        field = _CAMEL.get(raw_field, raw_field)
        if field in seen:
            continue
        seen.add(field)
        if error["type"] == "extra_forbidden":
            message = f"{field} is not a circuit breaker setting (known: {', '.join(_RULES)})"
        elif field in _RULES:
            message = f"{_RULES[field]} (got {describe_value(error['input'])})"
        else:
            message = f"{field or 'circuitBreaker'}: {error['msg']}"
        problems.append(FieldProblem(field, message))
    return problems
