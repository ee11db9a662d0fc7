"""A daemon thread that runs one task every few seconds until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("llmopt.wrapper")


class PeriodicTask:
    """Runs ``task`` every ``interval`` seconds in a daemon thread (first run at once).

    A failing run is logged and the loop goes on: a background helper must outlive a
    bug in any one run.
    """

    def __init__(
        self, task: Callable[[], object], *, interval: float, name: str, run_first: bool
    ) -> None:
        self.task = task
        self.interval = interval
        self.name = name
        self.run_first = run_first
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread unless it runs already."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, self.interval * 2))

    def _run(self) -> None:
        if not self.run_first and self._stop.wait(self.interval):
            return
        while True:
            try:
                self.task()
            except Exception:
                logger.exception("%s failed", self.name)
            if self._stop.wait(self.interval):
                return
