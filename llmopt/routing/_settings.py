"""Routing settings: the ``routing`` object of the ``aiconfigs`` document, and each entry's
``configuration.routing``.

==================== ======================================================================
``routing`` field    meaning
==================== ======================================================================
``enabled``          false (default): ``get_routed_model`` calls the default entry, bare
``fallbackChain``    entry keys tried in order when the chosen one fails (default: every
                     entry, in document order)
``rules``            see below; every rule whose ``when`` matches applies, in order
``circuitBreaker``   ``failureThreshold`` (5), ``windowSeconds`` (60), ``coolDownSeconds`` (30),
                     ``halfOpenMaxCalls`` (1)
``retry``            ``maxRetries`` (2): retries with backoff of an entry whose client
                     has none of its own (Ollama), when no backup is ready; while one
                     is, every entry is called once (its SDK's retries off too)
``optimize``         ``balanced`` (default), ``cost``, ``quality`` or ``latency``: how
                     entries are ranked when no rule says
``expectedOutputTokens`` output assumed when estimating a request's cost (default 500;
                     a request's own ``max_tokens`` wins when smaller)
==================== ======================================================================

A rule: ``name``; ``when`` (all given must match): ``task`` (one or a list of ``code``,
``reasoning``, ``chat``, ``extraction``), ``privacy`` (``local``), ``minTokens``,
``maxTokens``; then what it does: ``entries`` (only these may serve), ``prefer`` (these
first, in this order), ``exclude``, ``maxCostUsd`` (per request, estimated), ``latencyTargetMs``
(p95), ``optimize``.

Per entry, ``configuration.routing``: ``tasks`` (what it is good at), ``quality`` (0–1,
default 0.7), ``latencyTargetMs``, ``tags``, and the model facts of
:mod:`llmopt.routing._models` (``contextWindow``, ``tools``, ``vision``,
``structuredOutput``, ``local``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmopt.errors import ConfigError, FieldProblem, problems_of
from llmopt.failover import CircuitBreakerSettings

from ._tasks import TaskKind

Optimize = Literal["balanced", "cost", "quality", "latency"]
ROUTING = "routing"


class _Camel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RuleCondition(_Camel):
    """When a rule applies: every field given must match the request."""

    task: list[TaskKind] | None = None
    privacy: Literal["local"] | None = None
    min_tokens: int | None = Field(None, alias="minTokens", ge=0)
    max_tokens: int | None = Field(None, alias="maxTokens", ge=0)

    @field_validator("task", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RoutingRule(_Camel):
    """One rule: when it applies, and what it restricts or prefers."""

    name: str = Field(min_length=1, max_length=120)
    when: RuleCondition = RuleCondition()
    entries: list[str] | None = None
    prefer: list[str] = []
    exclude: list[str] = []
    max_cost_usd: float | None = Field(None, alias="maxCostUsd", gt=0)
    latency_target_ms: float | None = Field(None, alias="latencyTargetMs", gt=0)
    optimize: Optimize | None = None

    def named_entries(self) -> set[str]:
        return set(self.entries or ()) | set(self.prefer) | set(self.exclude)


class RetrySettings(_Camel):
    """The document's ``retry`` object: retries of an entry whose client has none."""

    max_retries: int = Field(2, alias="maxRetries", ge=0, le=10)


class RoutingSettings(_Camel):
    """The document's ``routing`` object; see the module docstring for every field."""

    enabled: bool = False
    fallback_chain: list[str] | None = Field(None, alias="fallbackChain")
    rules: list[RoutingRule] = []
    circuit_breaker: CircuitBreakerSettings = Field(
        CircuitBreakerSettings(), alias="circuitBreaker"
    )
    retry: RetrySettings = RetrySettings()
    optimize: Optimize = "balanced"
    expected_output_tokens: int = Field(500, alias="expectedOutputTokens", ge=1, le=1_000_000)

    @classmethod
    def from_dict(cls, raw: Any, *, entry_keys: Sequence[str] | None = None) -> Self:
        """Validate the document's ``routing`` object (``None``: routing off).

        With ``entry_keys``, every entry a rule or the chain names must be one of them.
        Raises :class:`~llmopt.errors.ConfigError` with one sentence per problem.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError([FieldProblem(ROUTING, "routing must be an object")])
        try:
            settings = cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_problems(exc)) from None
        if entry_keys is not None:
            settings._check_entries(set(entry_keys))
        names = [rule.name for rule in settings.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(
                [FieldProblem("routing.rules", f"rule names must differ: {', '.join(duplicates)}")]
            )
        return settings

    def _check_entries(self, known: set[str]) -> None:
        problems = []
        for place, named in [("routing.fallbackChain", set(self.fallback_chain or ()))] + [
            (f"routing.rules[{i}]", rule.named_entries()) for i, rule in enumerate(self.rules)
        ]:
            for key in sorted(named - known):
                problems.append(
                    FieldProblem(place, f"{place} names {key!r}, which is no llm entry")
                )
        if problems:
            raise ConfigError(problems)

    def to_document(self) -> dict[str, Any]:
        """The object as the document stores it (camelCase, defaults left out)."""
        data: dict[str, Any] = self.model_dump(by_alias=True, exclude_defaults=True, mode="json")
        return data


class EntryRouting(_Camel):
    """An entry's ``configuration.routing`` (model facts overrides are read separately)."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    tasks: list[TaskKind] = []
    quality: float = Field(0.7, ge=0, le=1)
    latency_target_ms: float | None = Field(None, alias="latencyTargetMs", gt=0)
    tags: list[str] = []

    @classmethod
    def from_dict(cls, raw: Any, *, key: str) -> Self:
        """Raises :class:`~llmopt.errors.ConfigError` naming the entry."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError([FieldProblem(f"{key}.routing", "routing must be an object")])
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_problems(exc, prefix=f"{key}.routing")) from None


def _problems(exc: ValidationError, *, prefix: str = ROUTING) -> list[FieldProblem]:
    return problems_of(exc, prefix, unknown="is not a routing setting")
