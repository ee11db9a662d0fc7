"""What the sandbox would have charged, seen from the provider's side.

Only successful Messages requests are billed; every request that ended in an error
response (validation, authentication, injected faults) is counted, not charged.
count_tokens is free and not counted. Message Batches items count like requests (only
``succeeded`` items are billed, at the batch price) and also in their own
``batch_requests_*`` counters, so a test can tell what went through a batch. Costs come
from :func:`llmopt.providers.cost_of` for each request on the injected clock's day, with
the prices of the API it came through: Anthropic's for ``/v1/messages`` and batches,
OpenAI's for ``/v1/chat/completions`` (cached tokens as cache reads), Ollama's zero for
``/api/chat``. A model without a price has ``cost_usd=None`` rather than a guessed cost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
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

    ``requests_*`` count every request, batch items included; ``batch_requests_*`` count
    the batch items among them. Tokens and cost cover both, batch items at the batch
    price. ``cost_usd`` is ``None`` when llmopt has no price for a model that was billed.
    """

    requests_succeeded: int = 0
    requests_errored: int = 0
    batch_requests_succeeded: int = 0
    batch_requests_errored: int = 0
    input_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = Decimal(0)

    @property
    def usage(self) -> TokenUsage:
        """The billed tokens as a :class:`~llmopt.providers.TokenUsage` (at the standard
        price: when batch items are among them, ``cost_usd`` is what they cost)."""
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelBilling:
        """The counters :meth:`to_json` gave (missing counters count as 0)."""
        names = {f.name for f in fields(cls)} - {"cost_usd"}
        counts = {name: int(data.get(name, 0)) for name in names}
        cost = data.get("cost_usd", "0")
        return cls(**counts, cost_usd=None if cost is None else Decimal(cost))

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
    """Thread-safe billing counters. ``on_change`` is called after every change (the
    sandbox saves its data directory there)."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelBilling] = {}
        self.on_change = on_change

    def record_success(
        self, model: str, usage: TokenUsage, *, day: date, provider: str = "anthropic"
    ) -> None:
        """Bill one successful request for ``model`` at ``day``'s prices of ``provider``
        (``anthropic``, ``openAI`` or ``ollama``)."""
        self._add(model, _billed(usage, day=day, model=model, requests=1, provider=provider))

    def record_error(self, model: str) -> None:
        """Count one errored request for ``model`` (``""`` when it named none)."""
        self._add(model, ModelBilling(requests_errored=1))

    def add(self, billed: Mapping[str, ModelBilling], *, notify: bool = True) -> None:
        """Add counters per model in one step: batch items are billed with
        :func:`batch_billing` and added this way, all at once. ``notify=False`` skips
        ``on_change`` (the caller saves)."""
        if not billed:
            return
        with self._lock:
            for model, counters in billed.items():
                self._models[model] = self._models.get(model, ModelBilling()) + counters
        if notify:
            self._changed()

    def snapshot(self) -> Billing:
        """The counters as they are now."""
        with self._lock:
            return Billing(MappingProxyType(dict(self._models)))

    def clear(self) -> None:
        """Start from zero."""
        with self._lock:
            self._models.clear()
        self._changed()

    def to_json(self) -> dict[str, Any]:
        """The counters per model, as :meth:`restore` takes them back."""
        with self._lock:
            return {name: billed.to_json() for name, billed in self._models.items()}

    def restore(self, data: Mapping[str, Mapping[str, Any]]) -> None:
        """Put back counters :meth:`to_json` gave, in place of the current ones."""
        models = {name: ModelBilling.from_json(billed) for name, billed in data.items()}
        with self._lock:
            self._models = models

    def _add(self, model: str, billed: ModelBilling) -> None:
        with self._lock:
            self._models[model] = self._models.get(model, ModelBilling()) + billed
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def batch_billing(
    model: str, usage: TokenUsage, *, succeeded: int, errored: int, day: date
) -> ModelBilling:
    """The counters for batch items of ``model``: ``succeeded`` ones whose tokens add up
    to ``usage`` (billed at the batch price on ``day``) and ``errored`` ones (not billed)."""
    billed = ModelBilling()
    if succeeded:
        batch_usage = replace(usage, batch=True)
        billed = _billed(batch_usage, day=day, model=model, requests=succeeded)
    return replace(
        billed,
        requests_errored=errored,
        batch_requests_succeeded=succeeded,
        batch_requests_errored=errored,
    )


def _billed(
    usage: TokenUsage, *, day: date, model: str, requests: int, provider: str = "anthropic"
) -> ModelBilling:
    cost = cost_of(usage, provider=provider, model=model, at=day)
    return ModelBilling(
        requests_succeeded=requests,
        input_tokens=usage.input_tokens,
        cache_write_5m_tokens=usage.cache_write_5m_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=None if cost is None else cost.total,
    )
