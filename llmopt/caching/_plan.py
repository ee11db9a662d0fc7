"""What the planner returns: the request to send and where its breakpoints are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """One ``cache_control`` marker in the planned request.

    ``location`` names the block (``"tools[4]"``, ``"system[0]"``,
    ``"messages[3].content[1]"``, ``"cache_control"`` for the request's top-level
    automatic caching); ``ttl`` is in seconds (300 or 3600); ``prefix_tokens`` the
    estimated length of the prefix it closes; ``origin`` who placed it; ``reason``
    why it is there.
    """

    location: str
    ttl: int
    prefix_tokens: int
    origin: Literal["caller", "planner"]
    reason: str


@dataclass(frozen=True, slots=True)
class CachePlan:
    """The result of :func:`plan_breakpoints`.

    ``payload`` is the request to send; the caller's request and every object in it
    are left as they were (edited containers are copies). ``changed`` is ``False``
    when ``payload`` *is* the caller's request. ``breakpoints`` lists every marker in
    it, in prefix order; ``decisions`` says what was placed, kept, skipped, removed
    or downgraded, and why, one sentence each (also logged at DEBUG on
    ``llmopt.caching``). ``content_blocks`` and ``estimated_tokens`` describe the
    whole request (blocks of tools, system and messages; the planner's estimate of its
    input tokens), 0 when it was passed through unread.

    What caching wasted, by the planner's memory of what it wrote and read (auto mode
    with a ``PrefixMemory``; 0 otherwise): ``unread_write_tokens_5m`` and
    ``unread_write_tokens_1h`` are tokens of earlier cache writes of this memory found,
    while planning this request, to have expired without a read (each write counted
    once, by the request that finds it); ``missed_read_tokens`` are input tokens of
    this request that a recent request also sent and that go out without a cache read.
    """

    payload: dict[str, Any]
    breakpoints: tuple[Breakpoint, ...]
    decisions: tuple[str, ...]
    changed: bool
    content_blocks: int = 0
    estimated_tokens: int = 0
    unread_write_tokens_5m: int = 0
    unread_write_tokens_1h: int = 0
    missed_read_tokens: int = 0

    @property
    def estimated_cached_tokens(self) -> int:
        """The planner's estimate of the tokens under a breakpoint: the longest marked prefix."""
        return max((b.prefix_tokens for b in self.breakpoints), default=0)
