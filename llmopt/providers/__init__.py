"""What providers offer for cost optimization, and what calls cost.

- :class:`ProviderCapabilities` (``detect``): may this provider and model batch,
  cache, and with which limits? ``KNOWN_PROVIDERS`` lists the names it knows.
- :class:`TokenUsage`: the billed token counts of one call, from Anthropic's or
  LangChain's usage report.
- :func:`cost_of` / :class:`CallCost`: a call's exact USD cost and baseline, from
  the price table checked on ``PRICES_CHECKED``.
- :func:`supports_batching`, :func:`supports_caching`, :func:`get_batch_limits`,
  :func:`get_cache_config`: the design documents' functions, answered from the same
  registry.
"""

from __future__ import annotations

from llmopt.providers._capabilities import (
    KNOWN_PROVIDERS,
    BatchLimits,
    CachingStyle,
    ProviderCapabilities,
)
from llmopt.providers._cost import CallCost, cost_of
from llmopt.providers._design_names import (
    get_batch_limits,
    get_cache_config,
    supports_batching,
    supports_caching,
)
from llmopt.providers._prices import PRICES_CHECKED, find_openai_model
from llmopt.providers._usage import TokenUsage

__all__ = [
    "KNOWN_PROVIDERS",
    "PRICES_CHECKED",
    "BatchLimits",
    "CachingStyle",
    "CallCost",
    "ProviderCapabilities",
    "TokenUsage",
    "cost_of",
    "find_openai_model",
    "get_batch_limits",
    "get_cache_config",
    "supports_batching",
    "supports_caching",
]
