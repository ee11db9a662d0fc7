"""The sandbox's sense of time: a seam so tests can move it by hand."""

from __future__ import annotations

import threading
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds since the Unix epoch, like :func:`time.time`. Cache lifetimes, the day whose
prices apply, outage windows and rate-limit windows are read from it. Waits (latency,
slow streams, hung responses) take real time, except on a
``ManualClock(instant_waits=True)``, which they move forward instead."""

DEFAULT_START = 1_767_225_600.0
"""2026-01-01T00:00:00Z, where a :class:`ManualClock` starts unless told otherwise."""


class ManualClock:
    """A clock that moves only when told to; pass it as ``SandboxOptions(clock=...)``.

    Use it to expire or refresh cache entries without waiting: ``clock.advance(301)``
    makes every 5-minute entry written before it stale. Thread-safe.

    With ``instant_waits=True`` the sandbox's waits (``latency_ms``, latency
    distributions, ``stream_chunk_delay_ms``, a ``timeout``'s hang) move this clock
    forward by their length at once instead of taking real time, so a test measures them
    on the clock. Leave it off when a test sends requests concurrently and reads the
    clock: each request's waits add up on the one clock.
    """

    def __init__(self, start: float = DEFAULT_START, *, instant_waits: bool = False) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.instant_waits = instant_waits

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


def wait_on(clock: Clock, seconds: float, stopping: threading.Event) -> None:
    """Wait ``seconds`` as ``clock`` counts them: a ``ManualClock(instant_waits=True)``
    moves forward at once; otherwise real time passes, cut short when ``stopping`` is set."""
    if seconds <= 0:
        return
    if isinstance(clock, ManualClock) and clock.instant_waits:
        clock.advance(seconds)
    else:
        stopping.wait(seconds)
