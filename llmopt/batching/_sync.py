"""Running async code from synchronous code: one event loop in a daemon thread of its own.

llmopt's one way to do it: the batch client's ``run_sync``/``cancel_sync``, the
wrapper's pooling dispatcher and the wrapper's synchronous ``batch`` each keep a
:class:`LoopThread`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

_T = TypeVar("_T")


class LoopThread:
    """A daemon thread running one event loop, started on first use; as a context
    manager, stopped on exit.

    The async SDK client keeps its connection pool on the loop that first used it, so
    every synchronous call must go through the same loop rather than a fresh
    ``asyncio.run`` each time. Callers inside another running loop can use it too: the
    work runs on this thread's loop, not theirs.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The thread's loop, started now if it was not."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @property
    def started(self) -> bool:
        return self._loop is not None

    def submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Schedule ``coroutine`` on the thread's loop; its result arrives in the future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the thread's loop and wait for its result (or exception)."""
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coroutine.close()
            raise RuntimeError("run_sync cannot be called from the client's own event loop")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    def stop(
        self, last: Coroutine[Any, Any, None] | None = None, *, timeout: float | None = None
    ) -> None:
        """Run ``last`` on the loop (if it ever started), then stop the loop and its thread.

        With a ``timeout``, wait that long for the thread; a loop whose thread is still
        busy then is left to it (the thread is a daemon) instead of being closed.
        """
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            if last is not None:
                last.close()
            return
        if last is not None:
            asyncio.run_coroutine_threadsafe(last, loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
