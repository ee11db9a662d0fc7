"""Prompt-cache breakpoints for Anthropic Messages requests.

- :func:`plan_breakpoints`: where a request gets its ``cache_control`` markers, as a
  :class:`CachePlan` (the request to send, its :class:`Breakpoint` s and the
  decisions behind them).
- :class:`PrefixMemory`: what recent requests saw, cached and read, and what ``auto``
  mode has learned of the entry's traffic (whether new system prompts or documents come
  again; how long prefixes stay away, for ``cacheTTL: "auto"``; which writes expired
  unread). ``export``/``merge`` share it between processes (see
  ``llmopt.wrapper.SharedLearning``).
- :class:`CacheManager`: the older entry point (``add_cache_markers``), a facade.
"""

from __future__ import annotations

from llmopt.caching._legacy import CacheManager
from llmopt.caching._manual import LITERAL as BREAKPOINT_LITERAL
from llmopt.caching._memory import PrefixMemory
from llmopt.caching._plan import Breakpoint, CachePlan
from llmopt.caching._planner import LOOKBACK_BLOCKS, plan_breakpoints

__all__ = [
    "BREAKPOINT_LITERAL",
    "LOOKBACK_BLOCKS",
    "Breakpoint",
    "CacheManager",
    "CachePlan",
    "PrefixMemory",
    "plan_breakpoints",
]
