"""The optimization flags of one ``llm`` entry: schema, defaults and (de)serialisation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from llmopt.errors import ConfigError, FieldProblem

from ._capability_rules import capability_problems
from ._messages import FIELD_RULES, describe_value, problems_from_validation_error
from ._nested import flag_origin_sentence, read_places
from ._places import places_of
from ._sections import ConfigSection

CacheBreakpoints = Literal["auto", "system_only", "manual"]
OptimizationStrategy = Literal["auto", "batch_only", "cache_only", "both"]
CacheTTL = Literal[300, 3600]
CacheTTLChoice = Literal[300, 3600, "auto"]
"""``cacheTTL``: a fixed lifetime in seconds, or ``"auto"``: 1 h for a prefix whose
observed re-use gap is longer than 5 minutes when the arithmetic pays, 5 m otherwise."""

BATCH_MAX_SIZE_LIMIT = 100_000
"""The largest batch any provider takes (Anthropic); the provider's own limit is checked too."""
BATCH_TIMEOUT_LIMIT = 3_600
"""Waiting over an hour to fill a batch is surely a mistake; the batch itself may take 24 h."""
CACHE_MIN_TOKENS_LIMIT = 1_000_000
"""No model's context reaches this; a larger minimum would switch caching off unseen."""


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
    cacheTTL              300            cache lifetime in seconds: 300 or 3600, or "auto"
                                         (1 h for prefixes re-used more than 5 min apart)
    cacheSystemTTL        null           lifetime of the tools and system prompt's entry, if
                                         longer (3600 with cacheTTL 300); null: cacheTTL
    cacheBreakpoints      "auto"         "auto", "system_only" or "manual"
    cacheMinTokens        null           never mark a shorter prefix (null: the model's minimum)
    fallbackToStandard    true           on an optimization failure, retry on the standard API
    logFallbacks          true           log each fallback as a warning (false: at debug level)
    optimizationStrategy  "auto"         "auto", "batch_only", "cache_only" or "both"
    ===================== ============== =========================================================

    The defaults mean "nothing changes": an entry without flags behaves as the bare model.
    Build one with :meth:`from_dict`, which reads every shape the design documents use
    (the flat flags, the migration guide's nested ``optimization`` block, a whole
    ``llm`` entry) and validates against the provider's capabilities; write it back
    with :meth:`to_dict`, which keeps every other field of the entry's ``configuration``.

    The guide's names work too: ``config.cache.enabled``, ``config.cache.default_ttl_seconds``,
    ``config.fallback.log_failures`` ... read and set the flags above (see
    :class:`~llmopt.config.ConfigSection`). Setting a flag validates it and raises
    :class:`~llmopt.errors.ConfigError` for a bad value; :meth:`validate` checks the
    whole again, against the provider too.
    """

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        populate_by_name=True,
        validate_default=False,
        validate_assignment=True,
    )

    optimization_enabled: bool = Field(False, alias="optimizationEnabled")
    batching_enabled: bool = Field(False, alias="batchingEnabled")
    batch_max_size: int = Field(10_000, alias="batchMaxSize", ge=1, le=BATCH_MAX_SIZE_LIMIT)
    batch_timeout: int = Field(30, alias="batchTimeout", ge=1, le=BATCH_TIMEOUT_LIMIT)
    caching_enabled: bool = Field(False, alias="cachingEnabled")
    cache_ttl: CacheTTLChoice = Field(300, alias="cacheTTL")
    cache_system_ttl: CacheTTL | None = Field(None, alias="cacheSystemTTL")
    cache_breakpoints: CacheBreakpoints = Field("auto", alias="cacheBreakpoints")
    cache_min_tokens: int | None = Field(
        None, alias="cacheMinTokens", ge=1, le=CACHE_MIN_TOKENS_LIMIT
    )
    fallback_to_standard: bool = Field(True, alias="fallbackToStandard")
    log_fallbacks: bool = Field(True, alias="logFallbacks")
    optimization_strategy: OptimizationStrategy = Field("auto", alias="optimizationStrategy")

    _other_fields: dict[Any, Any] = PrivateAttr(default_factory=dict)
    _provider: str | None = PrivateAttr(default=None)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, value)
            return
        try:
            super().__setattr__(name, value)
        except ValidationError:
            alias = _ALIASES.get(name, name)
            rule = FIELD_RULES.get(alias, f"{alias} is not valid")
            raise ConfigError(
                [FieldProblem(alias, f"{rule} (got {describe_value(value)})")]
            ) from None

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

    @property
    def provider(self) -> str | None:
        """The provider these flags were checked against (given, or the nested block's)."""
        return self._provider

    @property
    def cache(self) -> ConfigSection:
        """The caching flags by the migration guide's names (``enabled``, ``default_ttl_seconds``,
        ``min_tokens_to_cache``, ``auto_detect_cacheable``, ``breakpoints``, ``ttl``)."""
        return ConfigSection(self, "cache")

    @property
    def batch(self) -> ConfigSection:
        """The batching flags by the nested form's names (``enabled``, ``maxSize``, ``timeout``)."""
        return ConfigSection(self, "batch")

    @property
    def fallback(self) -> ConfigSection:
        """The fallback flags by the migration guide's names (``enabled``, ``log_failures``)."""
        return ConfigSection(self, "fallback")

    @classmethod
    def from_dict(
        cls, configuration: object, *, provider: str | None = None, model: str | None = None
    ) -> OptimizationConfig:
        """Read and validate an entry's optimization flags.

        ``configuration`` may be any shape the design documents use:

        =============================== ===================================================
        shape                           read
        =============================== ===================================================
        the entry's ``configuration``   its flat camelCase flags, and a nested
                                        ``optimization`` block inside it
        a whole ``llm`` entry           its ``configuration`` as above, and the nested
                                        block beside it (the migration guide's Step 1);
                                        its ``provider`` when none is given
        the nested block itself         ``from_dict(config["optimization"])``, as the
                                        guide's Step 2 does; its ``provider`` when none
                                        is given
        =============================== ===================================================

        Where two of these places give one flag different values, or a block holds a key
        llmopt does not know, that is a problem: nothing is guessed or dropped. With a
        ``provider`` (and the entry's ``model``, taken from the configuration unless
        given) the flags are also checked against what that provider offers.

        Raises :class:`~llmopt.errors.ConfigError` listing every problem found, and
        nothing else, whatever the input.
        """
        if not isinstance(configuration, Mapping):
            kind = type(configuration).__name__
            raise ConfigError(
                [FieldProblem("", f"the configuration must be an object, not {kind}")]
            )
        places, others, problems, entry = places_of(configuration, flat_flags=FLAT_FLAGS)
        if provider is None and isinstance(entry.get("provider"), str):
            provider = entry["provider"]
        reading = read_places(places, provider=provider, flat_flags=FLAT_FLAGS)
        problems.extend(reading.problems)
        if provider is None:
            provider = reading.provider
        flags = reading.flags
        try:
            config = cls.model_validate(flags)
            invalid: set[str] = set()
        except ValidationError as exc:
            found = [
                FieldProblem(
                    p.field, flag_origin_sentence(p.message, p.field, reading.origins.get(p.field))
                )
                for p in problems_from_validation_error(exc)
            ]
            problems.extend(found)
            invalid = {problem.field for problem in found}
            # Judge the valid flags against the provider too, so every problem shows at once.
            config = cls.model_validate({k: v for k, v in flags.items() if k not in invalid})
        problems.extend(p for p in _rule_problems(config) if p.field not in invalid)
        if provider is not None:
            if model is None:
                configured = others.get("model")
                model = configured if isinstance(configured, str) else None
            problems.extend(
                problem
                for problem in capability_problems(config, provider=provider, model=model)
                if problem.field not in invalid
            )
        if problems:
            raise ConfigError(problems)
        config._other_fields = others
        config._provider = provider
        return config

    def validate(  # type: ignore[override]
        self, *, provider: str | None = None, model: str | None = None
    ) -> OptimizationConfig:
        """Check these flags again, as :meth:`from_dict` would, and return ``self``.

        Use it after setting flags by assignment (``config.cache.enabled = True``) to
        check them against the provider (``provider``, else the one they were read
        with) and ``model``. Raises :class:`~llmopt.errors.ConfigError` with every problem.
        """
        type(self).from_dict(
            {**self._other_fields, **self.flags()},
            provider=provider or self._provider,
            model=model,
        )
        return self

    def flags(self) -> dict[str, Any]:
        """Every flag in its camelCase form."""
        return self.model_dump(by_alias=True)

    def to_dict(self) -> dict[Any, Any]:
        """The entry's ``configuration`` in the flat form: its other fields, then the flags."""
        return {**self._other_fields, **self.flags()}

    def with_flags(
        self, changes: Mapping[str, Any], *, provider: str | None = None
    ) -> OptimizationConfig:
        """A validated copy with some flags changed (camelCase names); see :meth:`from_dict`."""
        return type(self).from_dict(
            {**self.to_dict(), **changes}, provider=provider or self._provider
        )


def _rule_problems(config: OptimizationConfig) -> list[FieldProblem]:
    """Rules that tie two flags together."""
    if config.cache_system_ttl == 300 and config.cache_ttl == 3600:
        return [
            FieldProblem(
                "cacheSystemTTL",
                "cacheSystemTTL cannot be 300 while cacheTTL is 3600: a 1-hour cache entry "
                "may not follow a 5-minute one; leave it null or make it 3600",
            )
        ]
    return []


FLAG_NAMES: tuple[str, ...] = tuple(
    field.alias or name for name, field in OptimizationConfig.model_fields.items()
)
"""The camelCase flag names, in the table's order."""
FLAT_FLAGS = frozenset(FLAG_NAMES)
_ALIASES = {name: field.alias or name for name, field in OptimizationConfig.model_fields.items()}
ATTRIBUTES = {alias: name for name, alias in _ALIASES.items()}
"""camelCase flag name -> the attribute that holds it (``cacheTTL`` -> ``cache_ttl``)."""
