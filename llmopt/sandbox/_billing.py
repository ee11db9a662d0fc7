"""What the sandbox would have charged, seen from the provider's side.

Only successful Messages requests are billed; every request that ended in an error
response (validation, authentication, injected faults) is counted, not charged.
count_tokens is free and not counted. Costs come from :func:`llmopt.providers.cost_of`
for each request on the injected clock's day; a model without a price has
``cost_usd=None`` rather than a guessed cost.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal, localcontext
from types import MappingProxyType
from typing import Any

from llmopt.providers import TokenUsage, cost_of

_PRECISION = 80


@dataclass(frozen=True, slots=True)
class ModelBilling:
    """Totals for one model: request counts, billed tokens by kind, and USD cost.

    ``cost_usd`` is ``None`` when llmopt has no price for a model that was billed.
    """

    requests_succeeded: int = 0
    requests_errored: int = 0
    input_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = Decimal(0)

    @property
    def usage(self) -> TokenUsage:
        """The billed tokens as a :class:`~llmopt.providers.TokenUsage`."""
        return TokenUsage(
            input_tokens=self.input_tokens,
            cache_write_5m_tokens=self.cache_write_5m_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens,
            cache_read_tokens=self.cache_read_tokens,
            output_tokens=self.output_tokens,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; the cost is a decimal string (or null)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["cost_usd"] = None if self.cost_usd is None else str(self.cost_usd)
        return data

    def __add__(self, other: ModelBilling) -> ModelBilling:
        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "cost_usd"
        }
        return ModelBilling(**counts, cost_usd=_add_costs(self.cost_usd, other.cost_usd))


@dataclass(frozen=True, slots=True)
class Billing:
    """A snapshot of the sandbox's billing counters, per model and in total.

    Get one from ``SandboxServer.billing()`` or ``GET /_sandbox/billing`` (``to_json``).
    """

    models: Mapping[str, ModelBilling]

    @property
    def total(self) -> ModelBilling:
        """All models added up; the cost is ``None`` if any billed model has no price."""
        total = ModelBilling()
        for model in self.models.values():
            total = total + model
        return total

    def to_json(self) -> dict[str, Any]:
        """``{"models": {model: counters}, "total": counters}``."""
        return {
            "models": {name: m.to_json() for name, m in sorted(self.models.items())},
            "total": self.total.to_json(),
        }


def _add_costs(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None or b is None:
        return None
    with localcontext() as context:
        context.prec = _PRECISION
        return a + b


class BillingLedger:
    """Thread-safe billing counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelBilling] = {}

    def record_success(self, model: str, usage: TokenUsage, *, day: date) -> None:
        """Bill one successful request for ``model`` at ``day``'s prices."""
        cost = cost_of(usage, provider="anthropic", model=model, at=day)
        billed = ModelBilling(
            requests_succeeded=1,
            input_tokens=usage.input_tokens,
            cache_write_5m_tokens=usage.cache_write_5m_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=None if cost is None else cost.total,
        )
        with self._lock:
            self._models[model] = self._models.get(model, ModelBilling()) + billed

    def record_error(self, model: str) -> None:
        """Count one errored request for ``model`` (``""`` when it named none)."""
        with self._lock:
            current = self._models.get(model, ModelBilling())
            self._models[model] = replace(current, requests_errored=current.requests_errored + 1)

    def snapshot(self) -> Billing:
        """The counters as they are now."""
        with self._lock:
            return Billing(MappingProxyType(dict(self._models)))

    def clear(self) -> None:
        """Start from zero."""
        with self._lock:
            self._models.clear()
