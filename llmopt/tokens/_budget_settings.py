"""One budget of the document's ``budgets`` list, validated.

=============  ===============================================  ===================
field          meaning                                          default
=============  ===============================================  ===================
name           unique among the budgets; alerts and errors      (required)
               name it
entry          the llm entry key it limits; absent: all calls   absent (overall)
period         ``day`` or ``month``, in UTC                      (required)
limitUsd       USD per period                                   at least one of the
limitTokens    input + output tokens per period                 two, positive
atLimit        ``alert`` (call anyway), ``route_cheaper`` (the  ``alert``
               router picks a cheaper entry) or ``refuse``
               (``BudgetExceeded``)
webhook        http(s) URL that receives each alert as JSON     absent
thresholds     percentages of the limit that alert              ``[50, 80, 100]``
=============  ===============================================  ===================

camelCase names (as in the document) and snake_case are both accepted; unknown fields
are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmopt.errors import ConfigError, FieldProblem
from llmopt.tokens._webhook import http_url, masked_webhook

_RULES: dict[str, str] = {
    "name": "name must be a non-empty text, unique among the budgets",
    "entry": "entry must be an llm entry key (a non-empty text), or absent for all calls",
    "period": "period must be 'day' or 'month' (UTC)",
    "limitUsd": "limitUsd must be a positive number of US dollars",
    "limitTokens": "limitTokens must be a positive whole number of tokens",
    "atLimit": "atLimit must be one of 'alert', 'route_cheaper' or 'refuse'",
    "webhook": "webhook must be an http:// or https:// URL",
    "thresholds": "thresholds must be a list of whole percentages from 1 to 1,000",
}
_MAX_SHOWN = 40


class BudgetSettings(BaseModel):
    """One budget: how much one entry (or every call) may spend per UTC day or month,
    and what happens at the limit. Build it with :meth:`from_dict` or a whole list with
    :meth:`load_list`; both raise :class:`~llmopt.errors.ConfigError` with one sentence
    per invalid field. See the module's table for the fields."""

    model_config = ConfigDict(
        frozen=True, populate_by_name=True, extra="allow", str_strip_whitespace=True
    )

    name: str = Field(min_length=1)
    entry: str | None = Field(default=None, min_length=1)
    period: Literal["day", "month"]
    limit_usd: float | None = Field(default=None, alias="limitUsd", gt=0, allow_inf_nan=False)
    limit_tokens: int | None = Field(default=None, alias="limitTokens", gt=0)
    at_limit: Literal["alert", "route_cheaper", "refuse"] = Field(default="alert", alias="atLimit")
    webhook: str | None = None
    thresholds: tuple[int, ...] = (50, 80, 100)

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("thresholds")
    @classmethod
    def _percentages(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 1 <= t <= 1_000 for t in value):
            raise ValueError("thresholds out of range")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _a_limit(self) -> BudgetSettings:
        if self.limit_usd is None and self.limit_tokens is None:
            raise ValueError("a budget needs limitUsd or limitTokens")
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetSettings:
        """One budget from the document's dict; raises ``ConfigError``."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ConfigError(budget_problems(exc)) from None

    @classmethod
    def load_list(cls, items: Iterable[Mapping[str, Any]] | None) -> list[BudgetSettings]:
        """The document's ``budgets`` list (``None``: no budgets). Raises ``ConfigError``
        naming each problem as ``budgets[i].field``, and duplicate names."""
        problems: list[FieldProblem] = []
        budgets: list[BudgetSettings] = []
        for index, item in enumerate(items or ()):
            where = f"budgets[{index}]"
            if not isinstance(item, Mapping):
                problems.append(FieldProblem(where, f"{where} must be an object"))
                continue
            try:
                budgets.append(cls.model_validate(dict(item)))
            except ValidationError as exc:
                problems.extend(
                    FieldProblem(
                        f"{where}.{p.field}" if p.field else where, f"{where}: {p.message}"
                    )
                    for p in budget_problems(exc)
                )
        seen: set[str] = set()
        for index, budget in enumerate(budgets):
            if budget.name in seen:
                where = f"budgets[{index}].name"
                problems.append(
                    FieldProblem(where, f"{where}: another budget is named {budget.name!r}")
                )
            seen.add(budget.name)
        if problems:
            raise ConfigError(problems)
        return budgets


def budget_problems(exc: ValidationError) -> list[FieldProblem]:
    """One :class:`FieldProblem` per invalid field of a budget."""
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        field = {"limit_usd": "limitUsd", "limit_tokens": "limitTokens"}.get(field, field)
        field = {"at_limit": "atLimit"}.get(field, field)
        if field in seen:
            continue
        seen.add(field)
        rule = _RULES.get(field)
        if not field:
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(FieldProblem("", message))
        elif error["type"] == "missing":
            problems.append(FieldProblem(field, f"{rule or field} (it is missing)"))
        elif rule is None:
            problems.append(FieldProblem(field, f"{field}: {error['msg']}"))
        else:
            problems.append(FieldProblem(field, f"{rule} (got {_shown(field, error['input'])})"))
    return problems


def _shown(field: str, value: object) -> str:
    if field == "webhook" and isinstance(value, str):
        value = masked_webhook(value)
    text = "null" if value is None else repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
