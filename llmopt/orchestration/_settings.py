"""An entry's orchestration strategy: ``configuration.orchestration`` in ``aiconfigs``.

=================== ========== ===========================================================
field (camelCase)   default    meaning
=================== ========== ===========================================================
``strategy``        single     ``single``: the entry answers alone. ``cascade``: ``entries``
                               in order (cheapest first), the next asked only when an
                               answer scores below ``threshold``. ``parallel``: all
                               ``entries`` at once, the best-scoring answer kept.
                               ``consensus``: all at once, the answer they agree on by
                               ``method``
``entries``         –          the llm entries the strategy calls (2–8, distinct); this
                               entry itself may be one of them. Each is called as its own
                               entry (its optimization flags apply), never orchestrated
                               again
``threshold``       0.7        cascade: the quality score (0–1) an answer must reach
``method``          majority   consensus: ``majority`` (labels, structured answers),
                               ``similarity`` (free text) or ``judge``
``judge``           –          consensus by ``judge``: the entry that picks the answer
``timeoutSeconds``  60         per call (1–600); a call that takes longer counts as failed
=================== ========== ===========================================================

A field that the chosen strategy does not use is refused rather than ignored, so a
threshold written for a cascade never sits unnoticed under ``parallel``. The kill switch
turns orchestration off with the rest: the entry answers alone, bare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmopt.errors import ConfigError, FieldProblem, problems_of

ORCHESTRATION = "orchestration"
ACTION_UPDATE_ORCHESTRATION = "orchestration.update"
Strategy = Literal["single", "cascade", "parallel", "consensus"]
Method = Literal["majority", "similarity", "judge"]
MAX_ENTRIES = 8
DEFAULT_THRESHOLD = 0.7

# Which optional fields each strategy reads; any other one given is a mistake.
_USED: Mapping[str, frozenset[str]] = {
    "single": frozenset(),
    "cascade": frozenset({"entries", "threshold", "timeout_seconds"}),
    "parallel": frozenset({"entries", "timeout_seconds"}),
    "consensus": frozenset({"entries", "method", "judge", "timeout_seconds"}),
}
_ALIASES = {"timeout_seconds": "timeoutSeconds"}


class OrchestrationSettings(BaseModel):
    """One entry's ``orchestration`` object; see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)

    strategy: Strategy = "single"
    entries: tuple[str, ...] = ()
    threshold: float = Field(DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    method: Method = "majority"
    judge: str | None = Field(None, min_length=1)
    timeout_seconds: float = Field(60.0, alias="timeoutSeconds", gt=0, le=600)

    @property
    def orchestrated(self) -> bool:
        """Whether calls to the entry run a strategy over several entries."""
        return self.strategy != "single"

    @classmethod
    def from_dict(cls, raw: Any, *, key: str = "", entry_keys: Sequence[str] | None = None) -> Self:
        """Read ``raw`` (``None``: ``single``). With ``entry_keys`` every entry named must
        be one of them. Raises :class:`~llmopt.errors.ConfigError` naming each problem
        under ``<key>.orchestration``."""
        where = f"{key}.{ORCHESTRATION}" if key else ORCHESTRATION
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError([FieldProblem(where, f"{where} must be an object")])
        data = dict(raw)
        for name in ("threshold", "timeoutSeconds"):
            # JSON has one number type: 1 is as good a threshold as 1.0.
            if isinstance(data.get(name), int) and not isinstance(data.get(name), bool):
                data[name] = float(data[name])
        if isinstance(data.get("entries"), list):
            data["entries"] = tuple(data["entries"])
        try:
            settings = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(
                problems_of(exc, where, unknown="is not an orchestration setting")
            ) from None
        problems = settings._problems(where, entry_keys)
        if problems:
            raise ConfigError(problems)
        return settings

    def _problems(self, where: str, entry_keys: Sequence[str] | None) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        used = _USED[self.strategy]
        for name in sorted(self.model_fields_set - used - {"strategy"}):
            field = f"{where}.{_ALIASES.get(name, name)}"
            problems.append(
                FieldProblem(field, f"{field} does not apply to strategy {self.strategy!r}")
            )
        if self.orchestrated:
            field = f"{where}.entries"
            if not 2 <= len(self.entries) <= MAX_ENTRIES:
                problems.append(
                    FieldProblem(
                        field,
                        f"{field}: strategy {self.strategy!r} needs 2 to {MAX_ENTRIES} entries, "
                        f"got {len(self.entries)}",
                    )
                )
            repeated = sorted({k for k in self.entries if self.entries.count(k) > 1})
            if repeated:
                problems.append(
                    FieldProblem(field, f"{field} names {', '.join(repeated)} more than once")
                )
        if self.strategy == "consensus" and (self.method == "judge") != (self.judge is not None):
            field = f"{where}.judge"
            message = (
                "consensus by judge needs the judge entry"
                if self.method == "judge"
                else f"a judge applies only to method 'judge', not {self.method!r}"
            )
            problems.append(FieldProblem(field, f"{field}: {message}"))
        if entry_keys is not None:
            known = set(entry_keys)
            named = [("entries", k) for k in self.entries] + [
                ("judge", k) for k in [self.judge] if k is not None
            ]
            for name, entry in named:
                if entry not in known:
                    field = f"{where}.{name}"
                    problems.append(
                        FieldProblem(field, f"{field} names {entry!r}, which is no llm entry")
                    )
        return problems

    def to_dict(self) -> dict[str, Any]:
        """The camelCase JSON shape, with only the fields the strategy uses."""
        data = self.model_dump(by_alias=True, mode="json")
        used = {_ALIASES.get(name, name) for name in _USED[self.strategy]} | {"strategy"}
        shown = {name: value for name, value in data.items() if name in used}
        if self.judge is None:
            shown.pop("judge", None)
        return shown


def orchestration_of(
    configuration: Mapping[str, Any] | None,
    *,
    key: str = "",
    entry_keys: Sequence[str] | None = None,
) -> OrchestrationSettings:
    """The ``orchestration`` settings in an entry's ``configuration``."""
    return OrchestrationSettings.from_dict(
        (configuration or {}).get(ORCHESTRATION), key=key, entry_keys=entry_keys
    )
