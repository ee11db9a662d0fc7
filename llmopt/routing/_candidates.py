"""The entries a router may choose, read once per document revision."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from llmopt.config import AIConfigDocument, LLMEntry
from llmopt.errors import ConfigError
from llmopt.providers import TokenUsage, cost_of
from llmopt.providers._capabilities import canonical_provider

from ._models import ModelFacts, model_facts
from ._settings import EntryRouting

logger = logging.getLogger("llmopt.routing")

_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ``llm`` entry as the router sees it.

    ``input_usd_per_token``/``output_usd_per_token`` are ``None`` when llmopt has no
    price for the model (a cost ceiling then excludes it: its cost cannot be checked).
    ``max_output_tokens`` is the entry's own ``maxTokens``: no answer is longer, so no
    estimate is either (budgets reserve the estimate, and a reservation twelve times the
    real cost would reach a limit long before the spend does).
    """

    key: str
    provider: str
    model: str
    facts: ModelFacts
    routing: EntryRouting
    input_usd_per_token: float | None
    output_usd_per_token: float | None
    position: int
    max_output_tokens: int | None = None

    def estimated_tokens(self, input_tokens: int, output_tokens: int) -> int:
        """A request's input and expected output, the output capped by ``maxTokens``."""
        return input_tokens + self._capped(output_tokens)

    def estimated_cost(self, input_tokens: int, output_tokens: int) -> float | None:
        if self.input_usd_per_token is None or self.output_usd_per_token is None:
            return None
        output = self._capped(output_tokens)
        return input_tokens * self.input_usd_per_token + output * self.output_usd_per_token

    def _capped(self, output_tokens: int) -> int:
        if self.max_output_tokens is None:
            return output_tokens
        return min(output_tokens, self.max_output_tokens)


def candidates_of(document: AIConfigDocument) -> tuple[list[Candidate], list[str]]:
    """(the usable entries, one sentence per entry left out and why)."""
    candidates: list[Candidate] = []
    skipped: list[str] = []
    for entry in document.entries:
        try:
            candidates.append(_candidate(entry, len(candidates)))
        except (ConfigError, ValueError) as exc:
            skipped.append(f"{entry.key}: {exc}")
    for sentence in skipped:
        logger.warning("routing leaves out %s", sentence)
    return candidates, skipped


def _candidate(entry: LLMEntry, position: int) -> Candidate:
    configuration = dict(entry.configuration or {})
    provider = canonical_provider(entry.provider or "")
    if provider is None or not entry.model:
        raise ValueError("it names no known provider and model")
    raw = configuration.get("routing")
    routing = EntryRouting.from_dict(raw, key=entry.key)
    facts = model_facts(
        provider,
        entry.model,
        dict(raw) if isinstance(raw, dict) else None,
        context_length=configuration.get("contextLength"),
    )
    input_price = _price(provider, entry.model, TokenUsage(input_tokens=_MILLION))
    output_price = _price(provider, entry.model, TokenUsage(input_tokens=0, output_tokens=_MILLION))
    return Candidate(
        key=entry.key,
        provider=provider,
        model=entry.model,
        facts=facts,
        routing=routing,
        input_usd_per_token=input_price,
        output_usd_per_token=output_price,
        position=position,
        max_output_tokens=_positive_int(configuration.get("maxTokens")),
    )


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _price(provider: str, model: str, usage: TokenUsage) -> float | None:
    cost = cost_of(usage, provider=provider, model=model)
    if cost is None:
        return None
    return float(cost.total / Decimal(_MILLION))
