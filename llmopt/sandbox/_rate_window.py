"""The sliding window a :class:`~llmopt.sandbox._model_behaviour.RateLimit` counts in."""

from __future__ import annotations

import math
from collections import deque

from llmopt.sandbox._model_behaviour import RateLimit


class RateWindow:
    """The requests one model was let through in the last ``per_seconds`` seconds.

    Not thread-safe: the fault injector calls it under its lock.
    """

    def __init__(self, limit: RateLimit) -> None:
        self._limit = limit
        self._admitted: deque[tuple[float, int]] = deque()  # (clock seconds, input tokens)
        self._tokens = 0

    def admit(self, now: float, tokens: int = 0) -> int | None:
        """Count a request arriving at ``now`` and return None, or, when the window is
        full, count nothing and return the whole seconds until it would fit (at least 1).
        """
        limit = self._limit
        while self._admitted and self._admitted[0][0] <= now - limit.per_seconds:
            self._tokens -= self._admitted.popleft()[1]
        wait = 0.0
        if len(self._admitted) >= limit.requests:
            wait = self._free_at(len(self._admitted) - limit.requests) - now
        if limit.tokens is not None and self._admitted and self._tokens + tokens > limit.tokens:
            wait = max(wait, self._free_at(self._leaving_for(tokens, limit.tokens)) - now)
        if wait > 0 or len(self._admitted) >= limit.requests:
            return max(1, math.ceil(wait))
        self._admitted.append((now, tokens))
        self._tokens += tokens
        return None

    def _free_at(self, index: int) -> float:
        """When the request at ``index`` (oldest first) leaves the window."""
        return self._admitted[index][0] + self._limit.per_seconds

    def _leaving_for(self, tokens: int, cap: int) -> int:
        """The index of the last request that must leave for ``tokens`` more to fit."""
        total = self._tokens + tokens
        for index, (_, counted) in enumerate(self._admitted):
            total -= counted
            if total <= cap:
                return index
        return len(self._admitted) - 1
