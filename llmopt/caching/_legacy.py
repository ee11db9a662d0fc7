"""CacheManager: the seed's entry point, kept as a thin facade over the planner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt.caching._memory import PrefixMemory
from llmopt.caching._plan import CachePlan
from llmopt.caching._planner import plan_breakpoints
from llmopt.config import OptimizationConfig


class CacheManager:
    """Breakpoints for one model's requests, for code written against the seed.

    New code calls :func:`plan_breakpoints` directly. A manager keeps its own
    :class:`PrefixMemory` unless given one, so ``auto`` mode learns across calls.
    """

    __slots__ = ("config", "memory", "model")

    def __init__(
        self, config: OptimizationConfig, model: str, *, memory: PrefixMemory | None = None
    ) -> None:
        self.config = config
        self.model = model
        self.memory = memory if memory is not None else PrefixMemory()

    def plan(self, payload: Mapping[str, Any]) -> CachePlan:
        """The full plan for ``payload``; see :func:`plan_breakpoints`."""
        return plan_breakpoints(payload, model=self.model, config=self.config, memory=self.memory)

    def add_cache_markers(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``payload`` with its breakpoints placed; the caller's object is left as it was."""
        return self.plan(payload).payload
