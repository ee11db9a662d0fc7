"""Waiting between polls and retries: exponential backoff with jitter, and how long in all."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays that double from ``initial`` up to ``maximum``, each jittered.

    The jitter keeps between half and all of the delay ("equal jitter"), so many
    clients started together spread out but none polls faster than half the
    schedule. A server's ``retry-after`` is a floor: the delay is never shorter.
    """

    initial: float
    maximum: float
    rng: random.Random

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """The wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        base = min(self.maximum, self.initial * 2.0 ** min(attempt, 64))
        jittered = base * (0.5 + 0.5 * self.rng.random())
        if retry_after is not None and retry_after > jittered:
            return retry_after
        return jittered


@dataclass(frozen=True, slots=True)
class Pacing:
    """How the client's jobs wait: ``backoff``'s delays, slept with ``sleep`` (a seam for
    tests), and the ``deadline`` in seconds that a run or a resume waits for batches."""

    backoff: Backoff
    sleep: Callable[[float], Awaitable[None]]
    deadline: float

    async def pause(self, attempt: int, *, retry_after: float | None = None) -> None:
        """Sleep the delay before try ``attempt + 1``."""
        await self.sleep(self.backoff.delay(attempt, retry_after=retry_after))
