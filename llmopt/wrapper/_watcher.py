"""Live flags: one background thread per process and store keeps the current flags in memory.

Wrappers read :attr:`FlagWatcher.snapshot`, a plain attribute holding an immutable
:class:`FlagSnapshot`, so a call never waits on the store. The thread re-reads the kill
switch and the ``aiconfigs`` document every ``interval`` seconds; an operator's
rollback therefore reaches every running wrapper within about one interval. Until
the first read succeeds, and whenever a read fails, the snapshot says "unavailable"
and wrappers behave as the bare model (fail safe).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from llmopt.config import AIConfigDocument, OptimizationConfig, load_document
from llmopt.errors import LLMOptError
from llmopt.killswitch import read_kill_switch
from llmopt.store import Store
from llmopt.store._per_store import PerStore

from ._background import PeriodicTask

logger = logging.getLogger("llmopt.wrapper")

DEFAULT_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class FlagSnapshot:
    """The flags as last read. ``available`` False means: optimize nothing."""

    available: bool
    kill_switch_engaged: bool = True
    entries: Mapping[str, OptimizationConfig | None] = field(
        default_factory=lambda: MappingProxyType({})
    )
    read_at: float = 0.0
    problem: str | None = None
    document: AIConfigDocument | None = None
    """The whole document as read (routing reads its ``routing`` and ``budgets``)."""


_UNREAD = FlagSnapshot(available=False, problem="the flags have not been read yet")


class FlagWatcher:
    """Refreshes the flags of one store in a daemon thread; see the module docstring.

    Use :func:`watcher_for` to share one per store and process. ``refresh()`` reads
    once, synchronously (tests, and start-up code that wants fresh flags at once).
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.interval = interval
        self._clock = clock
        self.snapshot: FlagSnapshot = _UNREAD
        self._changed = threading.Condition()
        self._reading = threading.Lock()
        self._refresher = PeriodicTask(
            self.refresh, interval=interval, name="llmopt-flag-watcher", run_first=True
        )

    def start(self) -> FlagWatcher:
        """Start the background thread (idempotent); returns self."""
        self._refresher.start()
        return self

    def stop(self) -> None:
        """Stop the thread and wait for it; the last snapshot stays readable."""
        self._refresher.stop()

    def refresh(self) -> FlagSnapshot:
        """Read the kill switch and the flags now, publish and return the snapshot.

        Reads are one at a time: a read the background thread began before a caller's
        write must not publish after the caller's own refresh and undo it."""
        with self._reading:
            return self._refresh()

    def _refresh(self) -> FlagSnapshot:
        try:
            # The document first: when the store is down this fails quietly here,
            # instead of read_kill_switch logging the outage once a second.
            document = load_document(self.store)
            switch = read_kill_switch(self.store)
        except LLMOptError as exc:
            snapshot = FlagSnapshot(available=False, read_at=self._clock(), problem=str(exc))
            if self.snapshot.available:
                logger.warning("flags unreadable, optimization off until they are: %s", exc)
        else:
            entries = {entry.key: entry.config for entry in document.entries}
            snapshot = FlagSnapshot(
                available=True,
                kill_switch_engaged=switch.engaged,
                entries=MappingProxyType(entries),
                read_at=self._clock(),
                problem=switch.problem,
                document=document,
            )
            if switch.engaged != self.snapshot.kill_switch_engaged and self.snapshot.available:
                logger.warning(
                    "kill switch %s: optimization %s",
                    "engaged" if switch.engaged else "released",
                    "off everywhere" if switch.engaged else "back on per entry",
                )
        with self._changed:
            self.snapshot = snapshot
            self._changed.notify_all()
        return snapshot

    def wait_for(self, predicate: Callable[[FlagSnapshot], bool], timeout: float) -> bool:
        """Block until a published snapshot satisfies ``predicate`` (tests, start-up)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.snapshot), timeout=timeout)


_watchers: PerStore[FlagWatcher] = PerStore(FlagWatcher)


def watcher_for(store: Store) -> FlagWatcher:
    """The process's running watcher for ``store``, started on first use."""
    return _watchers(store).start()
