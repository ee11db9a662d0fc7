"""What each provider offers for cost optimization: the registry and ``detect``."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Literal

from llmopt.providers._claude_models import bare_model_id, find_claude_family
from llmopt.providers._prices import BATCH_DISCOUNT, CACHE_READ_MULTIPLIER, CACHE_WRITE_MULTIPLIERS

logger = logging.getLogger("llmopt.providers")

CachingStyle = Literal["explicit", "automatic", "none"]
"""How a provider caches prompts.

``explicit``: the request marks breakpoints (``cache_control``) and llmopt places them.
``automatic``: the provider caches shared prefixes by itself; nothing to place.
``none``: no prompt caching.
"""


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """What a provider's Batch API accepts and charges.

    Use it to split work into batches the provider will take (``max_requests``,
    ``max_bytes``; ``None`` when the byte limit is not known) and to estimate what
    batching saves: ``discount`` is the fraction of the standard price still paid,
    ``window_hours`` how long a batch may take, and ``stacks_with_cache_discount``
    whether cache prices apply on top of the batch discount.
    """

    max_requests: int
    max_bytes: int | None
    discount: float
    window_hours: int
    stacks_with_cache_discount: bool


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    """The optimizations a provider (and model) allow. Get one from :meth:`detect`.

    - ``known``: whether llmopt knows the provider at all.
    - ``batch``: the Batch API's limits, or ``None`` when there is none to use.
    - ``caching``: ``explicit`` breakpoints, ``automatic``, or ``none``.
    - ``cache_ttls``: seconds offered for explicit caching, else ``()``.
    - ``max_cache_breakpoints``: breakpoints per request (4 where explicit, else 0).
    - ``min_cacheable_tokens``: the shortest prefix that caches; ``None`` if unknown.
    - ``cache_write_multipliers``: TTL to write price / base input price; ``{}`` when
      writes cost nothing extra or the fee is not known.
    - ``cache_read_multiplier``: read price / base input price; ``None`` if unknown.
    - ``reason``: why nothing can be optimized, else ``None``.
    """

    provider: str
    model: str | None
    known: bool
    batch: BatchLimits | None
    caching: CachingStyle
    cache_ttls: tuple[int, ...]
    max_cache_breakpoints: int
    min_cacheable_tokens: int | None
    cache_write_multipliers: Mapping[int, float] = field(hash=False)
    cache_read_multiplier: float | None
    reason: str | None

    @classmethod
    def detect(cls, provider: str, model: str | None = None) -> ProviderCapabilities:
        """The capabilities of ``provider`` (a configuration's provider name) for ``model``.

        Use it before planning batches or cache breakpoints. It never raises: an
        unknown provider or model gets capabilities with nothing to optimize and a
        ``reason``, and the unknown provider is logged on ``llmopt.providers``.
        Provider names match case-insensitively; ``provider`` holds the canonical name.
        """
        if not isinstance(provider, str):
            provider = str(provider)
        if model is not None and not isinstance(model, str):
            model = str(model)
        return _detect(provider, model)

    @property
    def supports_batching(self) -> bool:
        """True when requests can go through the provider's Batch API."""
        return self.batch is not None

    @property
    def supports_explicit_caching(self) -> bool:
        """True when llmopt should place cache breakpoints in requests."""
        return self.caching == "explicit"

    # The design documents' names for the same facts.

    @property
    def supports_caching(self) -> bool:
        """True when the provider caches prompts at all (explicitly or automatically)."""
        return self.caching != "none"

    @property
    def batch_max_requests(self) -> int | None:
        """The most requests one batch takes, or ``None`` without a Batch API."""
        return None if self.batch is None else self.batch.max_requests

    @property
    def cache_marker_type(self) -> Literal["explicit", "automatic"] | None:
        """``"explicit"`` (requests carry breakpoints), ``"automatic"``, or ``None``."""
        return None if self.caching == "none" else self.caching

    @property
    def cache_ttl_default(self) -> int | None:
        """The cache lifetime (seconds) a request gets without asking, if it caches."""
        return min(self.cache_ttls) if self.cache_ttls else None

    @property
    def optimizable(self) -> bool:
        """True when batching or caching can lower this provider's bill."""
        return self.known and (self.batch is not None or self.caching != "none")


# Limits not in PROVIDER_FACTS: a request count every listed Batch API is believed
# to accept, so a split batch is never rejected. Raise it per provider once checked.
_UNCONFIRMED_MAX_REQUESTS = 50_000
_MB = 1_000_000  # decimal megabytes: the smaller reading of "MB", so a batch always fits
_HALF = float(BATCH_DISCOUNT)


def _capabilities(
    provider: str,
    *,
    batch: BatchLimits | None = None,
    caching: CachingStyle = "none",
    cache_ttls: tuple[int, ...] = (),
    min_cacheable_tokens: int | None = None,
    cache_write_multipliers: Mapping[int, float] | None = None,
    cache_read_multiplier: float | None = None,
    reason: str | None = None,
) -> ProviderCapabilities:
    return ProviderCapabilities(
        provider=provider,
        model=None,
        known=True,
        batch=batch,
        caching=caching,
        cache_ttls=cache_ttls,
        max_cache_breakpoints=4 if caching == "explicit" else 0,
        min_cacheable_tokens=min_cacheable_tokens,
        cache_write_multipliers=MappingProxyType(dict(cache_write_multipliers or {})),
        cache_read_multiplier=cache_read_multiplier,
        reason=reason,
    )


def _batch(
    max_requests: int = _UNCONFIRMED_MAX_REQUESTS,
    max_bytes: int | None = None,
    *,
    discount: float = _HALF,
    stacks: bool = False,
) -> BatchLimits:
    # Only Anthropic documents that cache prices stack with the batch discount;
    # elsewhere assume they do not, so savings are never overstated.
    return BatchLimits(max_requests, max_bytes, discount, 24, stacks)


_ANTHROPIC_WRITE_MULTIPLIERS = {ttl: float(m) for ttl, m in CACHE_WRITE_MULTIPLIERS.items()}
_ANTHROPIC_READ_MULTIPLIER = float(CACHE_READ_MULTIPLIER)

_ANTHROPIC = _capabilities(
    "anthropic",
    batch=_batch(100_000, 256 * _MB, stacks=True),
    caching="explicit",
    cache_ttls=(300, 3600),
    cache_write_multipliers=_ANTHROPIC_WRITE_MULTIPLIERS,
    cache_read_multiplier=_ANTHROPIC_READ_MULTIPLIER,
)
# Bedrock: the facts give no 1 h TTL and no cache prices for Claude there. Its batch
# jobs also take no tool calls and (by AWS quota) need a minimum number of records.
_BEDROCK = _capabilities("bedrock", batch=_batch(), caching="explicit", cache_ttls=(300,))
# Claude on Vertex caches as on Anthropic; its batches (BigQuery/GCS) have no limits
# or stacking rule in the facts.
_VERTEX_CLAUDE = replace(_ANTHROPIC, provider="vertexAI", batch=_batch())
_VERTEX_GEMINI = _capabilities("vertexAI", batch=_batch(), caching="automatic")
_VERTEX_WITHOUT_MODEL = _capabilities(
    "vertexAI",
    reason="vertexAI's optimizations depend on the model (Claude or Gemini); name the model",
)
_OPENAI_MIN_CACHEABLE_TOKENS = 1_024


def _no_optimization(provider: str) -> ProviderCapabilities:
    return _capabilities(
        provider,
        reason=(
            f"{provider} serves models of many kinds and llmopt cannot tell what they "
            "support; no optimization applies"
        ),
    )


_PROVIDERS: Mapping[str, ProviderCapabilities] = MappingProxyType(
    {
        "anthropic": _ANTHROPIC,
        "azureAI": _no_optimization("azureAI"),
        # OpenAI's reads cost 0.5x-0.1x by model, so no single read multiplier;
        # GPT-5.6+ explicit breakpoints are not driven by llmopt.
        "azureOpenAI": _capabilities(
            "azureOpenAI",
            batch=_batch(100_000, 200 * _MB),
            caching="automatic",
            min_cacheable_tokens=_OPENAI_MIN_CACHEABLE_TOKENS,
        ),
        "bedrock": _BEDROCK,
        # The facts name Cohere's batch jobs but no discount for them.
        "cohere": _capabilities("cohere", batch=_batch(discount=1.0)),
        "fireworks": _capabilities(
            "fireworks", batch=_batch(), caching="automatic", cache_read_multiplier=0.5
        ),
        # Explicit ``cachedContents`` are a separate resource, not request breakpoints;
        # inline batches must stay under 20 MB (JSONL files may be larger).
        "gemini": _capabilities("gemini", batch=_batch(max_bytes=20 * _MB), caching="automatic"),
        # Groq's batch window runs from 24 h up to 7 d; 24 h is the default.
        "groq": _capabilities(
            "groq", batch=_batch(), caching="automatic", cache_read_multiplier=0.5
        ),
        # Mistral runs one model per batch; its discount is not in the facts (50% documented).
        "mistral": _capabilities(
            "mistral", batch=_batch(), caching="automatic", cache_read_multiplier=0.1
        ),
        "ollama": _capabilities(
            "ollama",
            reason="ollama runs models locally: no Batch API and no prompt caching to use",
        ),
        "openAI": _capabilities(
            "openAI",
            batch=_batch(50_000, 200 * _MB),
            caching="automatic",
            min_cacheable_tokens=_OPENAI_MIN_CACHEABLE_TOKENS,
        ),
        "openAICompatible": _no_optimization("openAICompatible"),
        # Together's 50% applies to selected models only.
        "together": _capabilities("together", batch=_batch(50_000)),
        "vertexAI": _VERTEX_WITHOUT_MODEL,
        "xai": _capabilities("xai", batch=_batch(), caching="automatic"),
    }
)
_CANONICAL_NAMES = {name.casefold(): name for name in _PROVIDERS}

KNOWN_PROVIDERS: tuple[str, ...] = tuple(sorted(_PROVIDERS))
"""Every provider name llmopt knows, sorted; configurations use these names."""


def canonical_provider(name: str) -> str | None:
    """The registry's spelling of provider ``name``, or None when it is not known."""
    return _CANONICAL_NAMES.get(name.strip().casefold())


def _nothing_for(template: ProviderCapabilities, model: str, reason: str) -> ProviderCapabilities:
    logger.info("no optimization for model %r on %s: %s", model, template.provider, reason)
    return replace(
        _capabilities(template.provider, reason=reason),
        model=model,
    )


def _claude(template: ProviderCapabilities, model: str) -> ProviderCapabilities:
    family = find_claude_family(model)
    if family is None:
        return _nothing_for(
            template,
            model,
            f"{model!r} is not a Claude model llmopt knows on {template.provider}; "
            "no optimization applies",
        )
    return replace(template, model=model, min_cacheable_tokens=family.min_cacheable_tokens)


_GEMINI_VERSION = re.compile(r"gemini-(\d{1,3})(?:\.(\d{1,2}))?")


def _gemini(template: ProviderCapabilities, model: str) -> ProviderCapabilities:
    version = _GEMINI_VERSION.match(bare_model_id(model))
    # Implicit caching starts with Gemini 2.5.
    if version is not None and (int(version[1]), int(version[2] or 0)) < (2, 5):
        return replace(template, model=model, caching="none")
    return replace(template, model=model)


def _vertex(template: ProviderCapabilities, model: str) -> ProviderCapabilities:
    if bare_model_id(model).startswith("gemini"):
        return _gemini(_VERTEX_GEMINI, model)
    if find_claude_family(model) is not None:
        return _claude(_VERTEX_CLAUDE, model)
    return _nothing_for(
        template,
        model,
        f"{model!r} is neither a Gemini nor a Claude model llmopt knows on vertexAI; "
        "no optimization applies",
    )


_MODEL_DEPENDENT: Mapping[str, Callable[[ProviderCapabilities, str], ProviderCapabilities]] = (
    MappingProxyType(
        {"anthropic": _claude, "bedrock": _claude, "gemini": _gemini, "vertexAI": _vertex}
    )
)


@lru_cache(maxsize=1024)
def _detect(provider: str, model: str | None) -> ProviderCapabilities:
    name = canonical_provider(provider)
    if name is None:
        reason = f"{provider!r} is not a provider llmopt knows; no optimization applies"
        logger.info("%s", reason)
        return replace(_capabilities(provider, reason=reason), model=model, known=False)
    template = _PROVIDERS[name]
    resolve = _MODEL_DEPENDENT.get(name)
    if model is None or not model.strip() or resolve is None:
        return replace(template, model=model)
    return resolve(template, model)
