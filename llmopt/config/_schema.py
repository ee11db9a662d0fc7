"""The optimization flags of one ``llm`` entry: schema, defaults and (de)serialisation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from llmopt.errors import ConfigError, FieldProblem

from ._capability_rules import capability_problems
from ._legacy import normalise_legacy
from ._messages import problems_from_validation_error

CacheBreakpoints = Literal["auto", "system_only", "manual"]
OptimizationStrategy = Literal["auto", "batch_only", "cache_only", "both"]
CacheTTL = Literal[300, 3600]

BATCH_MAX_SIZE_LIMIT = 100_000
"""The largest batch any provider takes (Anthropic); the provider's own limit is checked too."""
BATCH_TIMEOUT_LIMIT = 3_600
"""Waiting over an hour to fill a batch is surely a mistake; the batch itself may take 24 h."""


class OptimizationConfig(BaseModel):
    """The optimization flags of one ``llm`` entry, with safe defaults.

    ===================== ============== =========================================================
    field (camelCase)     default        meaning
    ===================== ============== =========================================================
    optimizationEnabled   false          master switch for this entry
    batchingEnabled       false          route eligible work through the provider's Batch API
    batchMaxSize          10000          submit a batch when this many requests wait
    batchTimeout          30             submit a partial batch after this many seconds
    cachingEnabled        false          place prompt-cache breakpoints
    cacheTTL              300            cache lifetime in seconds: 300 or 3600
    cacheBreakpoints      "auto"         "auto", "system_only" or "manual"
    fallbackToStandard    true           on an optimization failure, retry on the standard API
    optimizationStrategy  "auto"         "auto", "batch_only", "cache_only" or "both"
    ===================== ============== =========================================================

    The defaults mean "nothing changes": an entry without flags behaves as the bare model.
    Build one with :meth:`from_dict` (which also validates against the provider's
    capabilities and reads the older nested form); write it back with :meth:`to_dict`,
    which keeps every other field of the entry's ``configuration``.
    """

    model_config = ConfigDict(
        frozen=True, strict=True, extra="forbid", populate_by_name=True, validate_default=False
    )

    optimization_enabled: bool = Field(False, alias="optimizationEnabled")
    batching_enabled: bool = Field(False, alias="batchingEnabled")
    batch_max_size: int = Field(10_000, alias="batchMaxSize", ge=1, le=BATCH_MAX_SIZE_LIMIT)
    batch_timeout: int = Field(30, alias="batchTimeout", ge=1, le=BATCH_TIMEOUT_LIMIT)
    caching_enabled: bool = Field(False, alias="cachingEnabled")
    cache_ttl: CacheTTL = Field(300, alias="cacheTTL")
    cache_breakpoints: CacheBreakpoints = Field("auto", alias="cacheBreakpoints")
    fallback_to_standard: bool = Field(True, alias="fallbackToStandard")
    optimization_strategy: OptimizationStrategy = Field("auto", alias="optimizationStrategy")

    _other_fields: dict[Any, Any] = PrivateAttr(default_factory=dict)

    @property
    def applies_caching(self) -> bool:
        """Whether calls through this entry get cache breakpoints, all switches considered."""
        return (
            self.optimization_enabled
            and self.caching_enabled
            and self.optimization_strategy in ("auto", "cache_only", "both")
        )

    @property
    def applies_batching(self) -> bool:
        """Whether eligible calls of this entry go to the Batch API, all switches considered."""
        return (
            self.optimization_enabled
            and self.batching_enabled
            and self.optimization_strategy in ("auto", "batch_only", "both")
        )

    @property
    def other_fields(self) -> dict[Any, Any]:
        """The entry's other ``configuration`` fields (model, apiKey, ...), kept verbatim."""
        return dict(self._other_fields)

    @classmethod
    def from_dict(
        cls, configuration: object, *, provider: str | None = None, model: str | None = None
    ) -> OptimizationConfig:
        """Read and validate an entry's ``configuration``.

        Accepts the flat camelCase form and the older nested ``{"optimization": {...}}``
        form (flat fields win where both are given). With ``provider`` (and the entry's
        ``model``, taken from the configuration unless given) the flags are also checked
        against what that provider offers.

        Raises :class:`~llmopt.errors.ConfigError` listing every problem found, and
        nothing else, whatever the input.
        """
        if not isinstance(configuration, Mapping):
            kind = type(configuration).__name__
            raise ConfigError(
                [FieldProblem("", f"the configuration must be an object, not {kind}")]
            )
        flags, others, problems = normalise_legacy(configuration, provider=provider)
        try:
            config = cls.model_validate(flags)
            invalid: set[str] = set()
        except ValidationError as exc:
            found = problems_from_validation_error(exc)
            problems.extend(found)
            invalid = {problem.field for problem in found}
            # Judge the valid flags against the provider too, so every problem shows at once.
            config = cls.model_validate({k: v for k, v in flags.items() if k not in invalid})
        if provider is not None:
            if model is None and isinstance(configuration.get("model"), str):
                model = configuration["model"]
            problems.extend(
                problem
                for problem in capability_problems(config, provider=provider, model=model)
                if problem.field not in invalid
            )
        if problems:
            raise ConfigError(problems)
        config._other_fields = others
        return config

    def flags(self) -> dict[str, Any]:
        """The nine flags in their camelCase form."""
        return self.model_dump(by_alias=True)

    def to_dict(self) -> dict[Any, Any]:
        """The entry's ``configuration`` in the flat form: its other fields, then the flags."""
        return {**self._other_fields, **self.flags()}

    def with_flags(
        self, changes: Mapping[str, Any], *, provider: str | None = None
    ) -> OptimizationConfig:
        """A validated copy with some flags changed (camelCase names); see :meth:`from_dict`."""
        return type(self).from_dict({**self.to_dict(), **changes}, provider=provider)


FLAG_NAMES: tuple[str, ...] = tuple(
    field.alias or name for name, field in OptimizationConfig.model_fields.items()
)
"""The camelCase flag names, in the table's order."""
