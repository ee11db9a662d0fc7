"""A finished batch's results: downloading them, and what storing them is worth."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import anthropic
from pydantic import BaseModel

from llmopt.providers import TokenUsage, cost_of

ItemKind = Literal["succeeded", "errored", "canceled", "expired"]
_KINDS: dict[str, ItemKind] = {
    "succeeded": "succeeded",
    "errored": "errored",
    "canceled": "canceled",
    "expired": "expired",
}


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One line of a batch's results: how the request ended, with its message or error."""

    kind: ItemKind
    message: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def as_json_dict(value: object) -> dict[str, Any] | None:
    """An SDK model (or a plain mapping) as a JSON dict; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    if isinstance(value, dict):
        return dict(value)
    raise TypeError(f"expected a JSON object, got {type(value).__name__}")


async def fetch_results(
    client: anthropic.AsyncAnthropic, provider_batch_id: str
) -> dict[str, ItemResult]:
    """Every result line of an ended batch, by ``custom_id`` (never by position).

    Raises the SDK's errors (``anthropic.APIError``), and ``anthropic.AnthropicError``
    when the batch has no ``results_url`` yet.
    """
    items: dict[str, ItemResult] = {}
    lines = await client.messages.batches.results(provider_batch_id)
    async for line in lines:
        result = line.result
        items[line.custom_id] = ItemResult(
            _KINDS.get(str(getattr(result, "type", "")), "errored"),
            message=as_json_dict(getattr(result, "message", None)),
            error=as_json_dict(getattr(result, "error", None)),
        )
    return items


def batch_cost(
    messages: Iterable[dict[str, Any]], *, default_model: str, day: date
) -> float | None:
    """What the answered requests of a batch cost (batch prices), or ``None`` if unknown.

    ``None`` as soon as one message's model has no price: a partial sum would
    understate the bill.
    """
    total = Decimal(0)
    for message in messages:
        reported = TokenUsage.from_anthropic(message.get("usage") or {})
        usage = dataclasses.replace(reported, batch=True)
        model = str(message.get("model") or default_model)
        cost = cost_of(usage, provider="anthropic", model=model, at=day)
        if cost is None:
            return None
        total += cost.total
    return float(total)
