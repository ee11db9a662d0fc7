"""A finished batch's results: downloading them, and what storing them is worth."""

from __future__ import annotations

import dataclasses
import json
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
    # Each line is parsed as plain JSON: building the SDK's models for 100,000 lines
    # only to dump them back to dicts would cost more than the download itself.
    items: dict[str, ItemResult] = {}
    results = client.messages.batches.with_streaming_response.results(provider_batch_id)
    async with results as response:
        async for line in response.iter_lines():
            if not line.strip():
                continue
            item = json.loads(line)
            result = item.get("result") or {}
            items[str(item["custom_id"])] = ItemResult(
                _KINDS.get(str(result.get("type", "")), "errored"),
                message=result.get("message"),
                error=result.get("error"),
            )
    return items


def batch_cost(
    messages: Iterable[dict[str, Any]], *, default_model: str, day: date
) -> float | None:
    """What the answered requests of a batch cost (batch prices), or ``None`` if unknown.

    ``None`` as soon as one message's model has no price: a partial sum would
    understate the bill.
    """
    # Cost is linear in tokens: sum each model's usage, then price it once.
    totals: dict[str, TokenUsage] = {}
    for message in messages:
        usage = dataclasses.replace(
            TokenUsage.from_anthropic(message.get("usage") or {}), batch=True
        )
        model = str(message.get("model") or default_model)
        seen = totals.get(model)
        totals[model] = usage if seen is None else seen + usage
    total = Decimal(0)
    for model, usage in totals.items():
        cost = cost_of(usage, provider="anthropic", model=model, at=day)
        if cost is None:
            return None
        total += cost.total
    return float(total)
