"""Quality monitoring settings: the ``quality`` object of the ``aiconfigs`` document.

==================== ========= ==============================================================
field (camelCase)    default   meaning
==================== ========= ==============================================================
``enabled``          false     score the answers of routed calls (``get_routed_model``) in
                               the background and record them per entry and model
``sampleRate``       1.0       the share of answers scored (0 < rate ≤ 1)
``passThreshold``    0.7       an answer scoring this or more passes (pass rates, A/B tests)
``weights``          {}        per-check weights over :data:`~llmopt.quality.DEFAULT_WEIGHTS`
                               (``code``, ``completeness``, ``support``, ``relevance``,
                               ``safety``, ``judge``)
``degradation``      see below when an entry's recent scores fall below its baseline
``webhook``          –         an http(s) URL that receives each degradation alert as JSON
``abTests``          []        see below
==================== ========= ==============================================================

``degradation``: ``windowMinutes`` (60; the recent window, 5 min to 1 day),
``baselineHours`` (24; the hours before the window it is compared with, longer than the
window), ``drop`` (0.1; how far the window's mean score must fall below the baseline's,
0–1), ``minSamples`` (20; answers both need before anything is judged).

An A/B test (``abTests[]``): ``name`` (letters, digits, ``._-``), ``entries`` (the two
entries compared), ``share`` (the share of routed traffic sent to the test, split evenly
between the two; all enabled tests together at most 1), ``metric`` (``score``: Welch's
t-test on the mean scores, or ``pass``: a two-proportion z-test on pass rates),
``minSamples`` (100: answers per arm before a verdict), ``enabled`` (true).

Nothing here calls an LLM: the judge is never used for monitoring traffic, only when a
caller builds an :class:`~llmopt.quality.LLMQualityMonitor` with one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmopt.errors import ConfigError, FieldProblem, problems_of
from llmopt.quality._score import DEFAULT_WEIGHTS
from llmopt.tokens._webhook import http_url

QUALITY = "quality"
ACTION_UPDATE_QUALITY = "quality.update"
_TEST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class _Camel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)


class DegradationSettings(_Camel):
    """When an entry's recent scores count as degraded; see the module docstring."""

    window_minutes: int = Field(60, alias="windowMinutes", ge=5, le=24 * 60)
    baseline_hours: int = Field(24, alias="baselineHours", ge=1, le=30 * 24)
    drop: float = Field(0.1, gt=0.0, le=1.0, allow_inf_nan=False)
    min_samples: int = Field(20, alias="minSamples", ge=1, le=1_000_000)


class ABTest(_Camel):
    """Two entries compared on a share of the routed traffic."""

    name: str
    entries: tuple[str, str]
    share: float = Field(gt=0.0, le=1.0, allow_inf_nan=False)
    metric: Literal["score", "pass"] = "score"
    min_samples: int = Field(100, alias="minSamples", ge=2, le=10_000_000)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _TEST_NAME.match(value):
            raise ValueError(
                "use 1 to 80 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("entries")
    @classmethod
    def _two_entries(cls, value: tuple[str, str]) -> tuple[str, str]:
        if value[0] == value[1]:
            raise ValueError("an A/B test compares two different entries")
        return value


class QualitySettings(_Camel):
    """The document's ``quality`` object; see the module docstring."""

    enabled: bool = False
    sample_rate: float = Field(1.0, alias="sampleRate", gt=0.0, le=1.0, allow_inf_nan=False)
    pass_threshold: float = Field(0.7, alias="passThreshold", ge=0.0, le=1.0, allow_inf_nan=False)
    weights: dict[str, float] = {}
    degradation: DegradationSettings = DegradationSettings()
    webhook: str | None = None
    ab_tests: tuple[ABTest, ...] = Field((), alias="abTests")

    @field_validator("weights")
    @classmethod
    def _known_checks(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: no such check; the checks are {', '.join(DEFAULT_WEIGHTS)}"
            )
        if any(not 0.0 <= w <= 100.0 for w in value.values()):
            raise ValueError("a weight is a number from 0 to 100")
        return value

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @classmethod
    def from_dict(cls, raw: Any, *, entry_keys: Sequence[str] | None = None) -> Self:
        """Validate the document's ``quality`` object (``None``: monitoring off).

        With ``entry_keys``, both entries of every A/B test must be among them. Raises
        :class:`~llmopt.errors.ConfigError` with one sentence per problem.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError([FieldProblem(QUALITY, "quality must be an object")])
        data = _floats(raw, ("sampleRate", "passThreshold"))
        if isinstance(data.get("weights"), Mapping):
            data["weights"] = _floats(data["weights"], tuple(data["weights"]))
        if isinstance(data.get("degradation"), Mapping):
            data["degradation"] = _floats(data["degradation"], ("drop",))
        if isinstance(data.get("abTests"), list):
            data["abTests"] = tuple(
                _ab_test(test) if isinstance(test, Mapping) else test for test in data["abTests"]
            )
        try:
            settings = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(
                problems_of(exc, QUALITY, unknown="is not a quality setting")
            ) from None
        problems = settings._problems(entry_keys)
        if problems:
            raise ConfigError(problems)
        return settings

    def _problems(self, entry_keys: Sequence[str] | None) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        window_hours = self.degradation.window_minutes / 60
        if self.degradation.baseline_hours <= window_hours:
            field = f"{QUALITY}.degradation.baselineHours"
            problems.append(
                FieldProblem(
                    field,
                    f"{field}: the baseline ({self.degradation.baseline_hours} h) must be "
                    f"longer than the window ({self.degradation.window_minutes} min)",
                )
            )
        names = [test.name for test in self.ab_tests]
        for name in sorted({n for n in names if names.count(n) > 1}):
            field = f"{QUALITY}.abTests"
            problems.append(FieldProblem(field, f"{field}: two tests are named {name!r}"))
        total = sum(test.share for test in self.ab_tests if test.enabled)
        if total > 1.0 + 1e-9:
            field = f"{QUALITY}.abTests"
            problems.append(
                FieldProblem(
                    field,
                    f"{field}: the enabled tests' shares add up to {total:g}; "
                    "together they can take at most all of the traffic (1)",
                )
            )
        if entry_keys is not None:
            known = set(entry_keys)
            for index, test in enumerate(self.ab_tests):
                for entry in test.entries:
                    if entry not in known:
                        field = f"{QUALITY}.abTests[{index}].entries"
                        problems.append(
                            FieldProblem(field, f"{field} names {entry!r}, which is no llm entry")
                        )
        return problems

    @property
    def check_weights(self) -> dict[str, float]:
        """Every check's weight: the defaults with this document's changes."""
        return {**DEFAULT_WEIGHTS, **self.weights}

    def running_tests(self) -> tuple[ABTest, ...]:
        """The enabled A/B tests, in document order."""
        return tuple(test for test in self.ab_tests if test.enabled)

    def to_dict(self) -> dict[str, Any]:
        """The camelCase JSON shape, as stored."""
        data: dict[str, Any] = self.model_dump(by_alias=True, mode="json", exclude_none=True)
        return data


def _floats(raw: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """``raw`` with the whole numbers of ``names`` as floats: JSON has one number type."""
    data = dict(raw)
    for name in names:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            data[name] = float(value)
    return data


def _ab_test(raw: Mapping[str, Any]) -> dict[str, Any]:
    data = _floats(raw, ("share",))
    if isinstance(data.get("entries"), list):
        data["entries"] = tuple(data["entries"])
    return data
