"""The sandbox's sense of time: a seam so tests can move it by hand."""

from __future__ import annotations

import threading
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds since the Unix epoch, like :func:`time.time`. Cache lifetimes and the day whose
prices apply are read from it; latency is always real time."""

DEFAULT_START = 1_767_225_600.0
"""2026-01-01T00:00:00Z, where a :class:`ManualClock` starts unless told otherwise."""


class ManualClock:
    """A clock that moves only when told to; pass it as ``SandboxOptions(clock=...)``.

    Use it to expire or refresh cache entries without waiting: ``clock.advance(301)``
    makes every 5-minute entry written before it stale. Thread-safe.
    """

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``. Raises ``ValueError`` when negative."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got {seconds} seconds")
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"ManualClock({self():.3f})"
