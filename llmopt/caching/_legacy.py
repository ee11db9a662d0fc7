"""CacheManager: the design documents' entry point, a thin facade over the planner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from llmopt.caching._memory import PrefixMemory
from llmopt.caching._messages import as_request, is_message_list, with_markers
from llmopt.caching._plan import CachePlan
from llmopt.caching._planner import plan_breakpoints
from llmopt.config import OptimizationConfig
from llmopt.providers import ProviderCapabilities

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage


class CacheManager:
    """Breakpoints for one model's requests, for code written against the design documents.

    ::

        manager = CacheManager(config, "claude-sonnet-4-5")          # llmopt's form
        manager = CacheManager(capabilities, config)                  # the design's form
        marked = manager.add_cache_markers(messages)   # LangChain messages, or a request

    The design's form takes the model from ``capabilities.model`` (or ``model=``);
    without one, no minimum prefix length is known and nothing is marked. New code
    calls :func:`plan_breakpoints` directly. A manager keeps its own
    :class:`PrefixMemory` unless given one, so ``auto`` mode learns across calls.
    ``OptimizedLLMWrapper.cache_manager`` is one sharing the wrapper's memory.
    """

    __slots__ = ("capabilities", "config", "memory", "model")

    def __init__(
        self,
        config: OptimizationConfig | ProviderCapabilities,
        model: str | OptimizationConfig | None = None,
        *,
        memory: PrefixMemory | None = None,
        capabilities: ProviderCapabilities | None = None,
    ) -> None:
        flags: object = config
        name: object = model
        if isinstance(config, ProviderCapabilities):  # the design's argument order
            capabilities = config
            flags, name = model, None
        if not isinstance(flags, OptimizationConfig):
            kind = type(flags).__name__
            raise TypeError(f"CacheManager needs an OptimizationConfig, not {kind}")
        if name is None and capabilities is not None:
            name = capabilities.model
        if not isinstance(name, str | None):
            raise TypeError(f"model must be a model name, not {type(name).__name__}")
        self.config = flags
        self.model = name or ""
        self.capabilities = capabilities
        self.memory = memory if memory is not None else PrefixMemory()

    def plan(self, payload: Mapping[str, Any]) -> CachePlan:
        """The full plan for ``payload``; see :func:`plan_breakpoints`."""
        return plan_breakpoints(
            payload,
            model=self.model,
            config=self.config,
            memory=self.memory,
            capabilities=self.capabilities,
        )

    @overload
    def add_cache_markers(self, request: Sequence[BaseMessage]) -> list[BaseMessage]: ...

    @overload
    def add_cache_markers(self, request: Mapping[str, Any]) -> dict[str, Any]: ...

    def add_cache_markers(
        self, request: Sequence[BaseMessage] | Mapping[str, Any]
    ) -> list[BaseMessage] | dict[str, Any]:
        """``request`` with its breakpoints placed: a Messages request payload, or a list
        of LangChain messages (returned as messages, marked block for block). The
        caller's objects are left as they were."""
        if is_message_list(request):
            messages: list[BaseMessage] = list(request)  # type: ignore[arg-type]
            planned = self.plan(as_request(messages, self.model)).payload
            return with_markers(messages, planned)
        if not isinstance(request, Mapping):
            raise TypeError("add_cache_markers takes a request payload or a list of messages")
        return self.plan(request).payload
