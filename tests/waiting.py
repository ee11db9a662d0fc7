"""The one way a test waits for what another thread or process does: ``wait_until``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str | None = None,
) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy, and
    return that; fail the test naming ``what`` (or the condition) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            waited_for = what or getattr(condition, "__name__", repr(condition))
            raise AssertionError(f"gave up after {timeout:g} s waiting for {waited_for}")
        time.sleep(interval)
