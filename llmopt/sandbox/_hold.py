"""Holding responses at their start, so tests can line requests up without sleeping."""

from __future__ import annotations

import threading
from types import TracebackType


class ResponseHold:
    """While held, Messages responses wait at their start (after the cache lookup, before
    the cache writes). Get it from ``SandboxServer.hold_responses()``.

    Use it to make requests overlap for certain: hold, send them, call
    :meth:`wait_until_waiting`, then :meth:`release` (or leave the ``with`` block).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._held = False
        self._closed = False
        self._waiting = 0

    def hold(self) -> ResponseHold:
        """Start holding responses; returns itself."""
        with self._condition:
            self._held = True
        return self

    def release(self) -> None:
        """Let every held response go, and stop holding."""
        with self._condition:
            self._held = False
            self._condition.notify_all()

    def close(self) -> None:
        """Release for good: the server is stopping."""
        with self._condition:
            self._closed = True
            self._held = False
            self._condition.notify_all()

    @property
    def waiting(self) -> int:
        """How many responses are being held now."""
        with self._condition:
            return self._waiting

    def wait_until_waiting(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` responses are held. Raises ``TimeoutError`` after ``timeout``."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._waiting >= count, timeout):
                raise TimeoutError(
                    f"{self._waiting} responses held after {timeout} s; expected {count}"
                )

    def pass_through(self) -> None:
        """Called at each response start: wait here while held."""
        with self._condition:
            if not self._held:
                return
            self._waiting += 1
            self._condition.notify_all()
            self._condition.wait_for(lambda: not self._held or self._closed)
            self._waiting -= 1

    def __enter__(self) -> ResponseHold:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
