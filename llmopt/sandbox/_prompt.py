"""A request's prompt as the cache sees it: blocks in prefix order, each with the key and
token count of the prefix that ends with it, and the breakpoints that mark some of them.

The prefix runs tools → system → messages, one block per tool definition, system text
block and message content block. Keys hash the blocks without their ``cache_control``
values, so moving a marker never changes what is cached. Before the first message block
the key takes in ``tool_choice``, the thinking settings and the number of images: changing
any of them invalidates the messages level and leaves tools and system cached, as on the
real API. A top-level ``cache_control`` ("automatic caching") adds a breakpoint on the
last block that can carry one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmopt.sandbox._tokens import (
    MESSAGE_OVERHEAD,
    REQUEST_OVERHEAD,
    block_tokens,
    canonical_json,
    tool_definition_tokens,
    without_cache_control,
)
from llmopt.sandbox._validation import CACHEABLE_BLOCK_TYPES, TTL_SECONDS, MessageRequest

_ROOT = hashlib.sha256(b"llmopt-sandbox prompt prefix v1").digest()


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """A block that carries ``cache_control``: its position and lifetime in seconds."""

    position: int
    ttl_seconds: int


@dataclass(frozen=True, slots=True)
class Prompt:
    """Per block position: ``prefix_keys[i]`` and ``prefix_tokens[i]`` describe the
    prefix up to and including block ``i``. ``total_tokens`` is what count_tokens says."""

    prefix_keys: tuple[bytes, ...]
    prefix_tokens: tuple[int, ...]
    breakpoints: tuple[Breakpoint, ...]
    total_tokens: int


class _Builder:
    def __init__(self) -> None:
        self.chain = _ROOT
        self.keys: list[bytes] = []
        self.tokens: list[int] = []
        self.running = 0
        self.explicit: dict[int, int] = {}
        self.last_cacheable: int | None = None

    def mix(self, tag: str, value: Any) -> None:
        data = canonical_json(without_cache_control(value)).encode()
        self.chain = hashlib.sha256(self.chain + tag.encode() + b"\0" + data).digest()

    def add(self, tag: str, described: Any, block: Mapping[str, Any], tokens: int) -> None:
        self.mix(tag, described)
        position = len(self.keys)
        self.running += tokens
        self.keys.append(self.chain)
        self.tokens.append(self.running)
        control = block.get("cache_control")
        if isinstance(control, Mapping):
            self.explicit[position] = TTL_SECONDS[control.get("ttl") or "5m"]
        if tag != "messages" or block.get("type") in CACHEABLE_BLOCK_TYPES:
            self.last_cacheable = position


def build_prompt(request: MessageRequest) -> Prompt:
    """The prefix blocks, keys, token counts and breakpoints of ``request``."""
    builder = _Builder()
    for tool in request.tools:
        builder.add("tools", tool, tool, tool_definition_tokens(tool))
    for block in request.system:
        builder.add("system", block, block, block_tokens(block))
    builder.mix(
        "messages-context",
        {
            "tool_choice": request.tool_choice,
            "thinking": request.thinking,
            "images": sum(_images(turn.blocks) for turn in request.messages),
        },
    )
    tail = REQUEST_OVERHEAD
    for turn in request.messages:
        if not turn.blocks:
            tail += MESSAGE_OVERHEAD
        for j, block in enumerate(turn.blocks):
            described = {"role": turn.role, "starts_message": j == 0, "block": block}
            overhead = MESSAGE_OVERHEAD if j == 0 else 0
            builder.add("messages", described, block, block_tokens(block) + overhead)
    breakpoints = dict(builder.explicit)
    if request.automatic_cache_ttl is not None and builder.last_cacheable is not None:
        position = builder.last_cacheable
        breakpoints[position] = max(breakpoints.get(position, 0), request.automatic_cache_ttl)
    return Prompt(
        prefix_keys=tuple(builder.keys),
        prefix_tokens=tuple(builder.tokens),
        breakpoints=tuple(Breakpoint(p, ttl) for p, ttl in sorted(breakpoints.items())),
        total_tokens=builder.running + tail,
    )


def _images(blocks: Any) -> int:
    count = 0
    for block in blocks if isinstance(blocks, list | tuple) else ():
        if isinstance(block, Mapping):
            if block.get("type") == "image":
                count += 1
            elif block.get("type") == "tool_result":
                count += _images(block.get("content"))
    return count
