"""Our own retry loop: exponential backoff with full jitter, honouring ``retry-after``.

Only for clients that have no retries of their own (Ollama's), or when a caller asks:
the anthropic and openai SDKs already retry twice, and a second loop on top would
multiply the attempts (3 x 3) and the wait.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ._classify import ErrorClass, classify_error, retry_after_of

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before retry ``n`` (0-based).

    ``retry-after`` from the provider wins when it is above 0 and at most
    ``max_retry_after`` seconds; a longer one means "not soon": no retry at all (as the
    SDKs do). Otherwise the delay is drawn uniformly from 0 to ``min(cap, base * 2**n)``
    ("full jitter", which spreads the retries of many clients instead of syncing them).
    """

    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, *, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before retry ``attempt``, or ``None`` for "do not retry"."""
        if retry_after is not None and retry_after > 0:
            return retry_after if retry_after <= self.max_retry_after else None
        return rng.uniform(0.0, min(self.cap, self.base * 2.0**attempt))


DEFAULT_BACKOFF = Backoff()


def retry_with_backoff(
    call: Callable[[], T],
    *,
    max_retries: int,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], object] = time.sleep,
    rng: random.Random | None = None,
    classify: Callable[[BaseException], ErrorClass] = classify_error,
) -> T:
    """``call()``, retried up to ``max_retries`` times while its error is retryable.

    Raises the last error when the retries run out, and the first one whose class a
    retry cannot help (:attr:`ErrorClass.retryable`) at once. ``sleep`` and ``rng`` are
    seams for tests.
    """
    draw = rng or random.Random()
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            wait = _next_wait(exc, attempt, max_retries, backoff, draw, classify)
            if wait is None:
                raise
        sleep(wait)
        attempt += 1


async def aretry_with_backoff(
    call: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: random.Random | None = None,
    classify: Callable[[BaseException], ErrorClass] = classify_error,
) -> T:
    """The async :func:`retry_with_backoff`: awaits ``call()`` and ``sleep``."""
    draw = rng or random.Random()
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            wait = _next_wait(exc, attempt, max_retries, backoff, draw, classify)
            if wait is None:
                raise
        await sleep(wait)
        attempt += 1


def _next_wait(
    exc: BaseException,
    attempt: int,
    max_retries: int,
    backoff: Backoff,
    rng: random.Random,
    classify: Callable[[BaseException], ErrorClass],
) -> float | None:
    if attempt >= max_retries or not classify(exc).retryable:
        return None
    return backoff.delay(attempt, retry_after=retry_after_of(exc), rng=rng)
