from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from llmopt.caching import CachePlan, PrefixMemory, plan_breakpoints
from llmopt.config import OptimizationConfig

MODEL = "claude-sonnet-4-5"  # minimum cacheable prefix: 1,024 tokens
SYSTEM = "You are a careful analyst. Cite every figure you use. " * 230  # ~3,100 tokens
TOOLS = [
    {
        "name": f"lookup_{n}",
        "description": f"Look up records of kind {n}.",
        "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
    }
    for n in range(3)
]
FORBIDDEN_TYPES = ("thinking", "redacted_thinking")


def config(**flags: Any) -> OptimizationConfig:
    """Caching on (auto mode, 5 minutes) unless ``flags`` say otherwise."""
    return OptimizationConfig.from_dict(
        {"optimizationEnabled": True, "cachingEnabled": True, **flags}
    )


def words(tokens: int, label: str = "") -> str:
    """About ``tokens`` estimated tokens of text (4 characters each), starting with ``label``."""
    return (label + " " + "word " * tokens)[: tokens * 4]


def request(
    messages: list[dict[str, Any]],
    *,
    system: Any = SYSTEM,
    tools: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "messages": messages}
    if system is not None:
        payload["system"] = system
    if tools is not None:
        payload["tools"] = tools
    payload.update(extra)
    return payload


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def plan(payload: Mapping[str, Any], **options: Any) -> CachePlan:
    options.setdefault("config", config())
    options.setdefault("model", MODEL)
    return plan_breakpoints(payload, **options)


def marker_sites(payload: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """Every ``cache_control`` in ``payload`` as (location, marker, block), in prefix order."""
    sites: list[tuple[str, Any, Any]] = []
    for index, tool in enumerate(payload.get("tools") or []):
        if tool.get("cache_control") is not None:
            sites.append((f"tools[{index}]", tool["cache_control"], tool))
    system = payload.get("system")
    if isinstance(system, list):
        for index, block in enumerate(system):
            if block.get("cache_control") is not None:
                sites.append((f"system[{index}]", block["cache_control"], block))
    for m, message in enumerate(payload.get("messages") or []):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for b, block in enumerate(content):
            nested = block.get("content")
            if block.get("type") == "tool_result" and isinstance(nested, list):
                for s, item in enumerate(nested):
                    if item.get("cache_control") is not None:
                        where = f"messages[{m}].content[{b}].content[{s}]"
                        sites.append((where, item["cache_control"], item))
            if block.get("cache_control") is not None:
                sites.append((f"messages[{m}].content[{b}]", block["cache_control"], block))
    if payload.get("cache_control") is not None:
        sites.append(("cache_control", payload["cache_control"], None))
    return sites


def locations(payload: Mapping[str, Any]) -> list[str]:
    return [where for where, _, _ in marker_sites(payload)]


def ttls(payload: Mapping[str, Any]) -> list[str]:
    return [marker.get("ttl", "5m") for _, marker, _ in marker_sites(payload)]


def ttl_order_is_valid(payload: Mapping[str, Any]) -> bool:
    seen_five_minutes = False
    for ttl in ttls(payload):
        if ttl == "1h" and seen_five_minutes:
            return False
        seen_five_minutes = seen_five_minutes or ttl != "1h"
    return True


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def memory(clock: FakeClock) -> Iterator[PrefixMemory]:
    yield PrefixMemory(clock=clock)
