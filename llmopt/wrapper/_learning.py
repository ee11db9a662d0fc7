"""What the cache planners of many processes learn, shared through the store.

The provider's prompt cache belongs to the organisation, not to a process: a prefix one
worker wrote is read by every other that marks it. So each process keeps one
``PrefixMemory`` per entry and, off the call path, a daemon thread publishes each one's
export (``Store.put_planner_states``) and merges the other processes' (their learned
counts and the prefixes they saw, wrote and read: fingerprints are the same in every
process). A store that is down or a state that does not parse costs only the sharing:
calls plan with what this process knows.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from llmopt.caching import PrefixMemory
from llmopt.errors import StoreError
from llmopt.store import PlannerState, Store
from llmopt.store._per_store import PerStore
from llmopt.store._records import utcnow

from ._background import PeriodicTask

logger = logging.getLogger("llmopt.wrapper")

DEFAULT_SYNC_INTERVAL = 2.0
"""Seconds between two rounds of sharing."""
HORIZON = timedelta(hours=1)
"""Other processes' states older than this are not read: nothing in them is still cached."""


class SharedLearning:
    """The process's planner memories for ``store``'s entries, shared with other processes.

    Use :func:`learning_for` to get the process's one per store; ``memory(entry_key)``
    is what a wrapper plans with. ``sync()`` shares now (tests, shutdown); a daemon
    thread does it every ``interval`` seconds once a memory has been asked for.
    ``process`` names this process in the store (host and pid by default).
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float = DEFAULT_SYNC_INTERVAL,
        process: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        memory_factory: Callable[[], PrefixMemory] = lambda: PrefixMemory(shared=True),
    ) -> None:
        self.store = store
        self._process = process
        self._clock = clock
        self._memory_factory = memory_factory
        self._memories: dict[str, PrefixMemory] = {}
        self._lock = threading.Lock()
        self._refused: set[tuple[str, str]] = set()
        self._task = PeriodicTask(
            self.sync, interval=interval, name="llmopt-planner-sharing", run_first=False
        )

    @property
    def process(self) -> str:
        # Worked out each time: a forked worker is another process than its parent.
        return self._process or f"{socket.gethostname()}:{os.getpid()}"

    def memory(self, entry_key: str) -> PrefixMemory:
        """The memory the planner uses for ``entry_key`` in this process."""
        with self._lock:
            memory = self._memories.get(entry_key)
            if memory is None:
                memory = self._memories[entry_key] = self._memory_factory()
        self._task.start()
        return memory

    def start(self) -> None:
        """(Re)start the sharing thread when there is something to share."""
        if self._memories:
            self._task.start()

    def stop(self) -> None:
        """Share once more and stop the thread."""
        self._task.stop()
        self.sync()

    def sync(self) -> int:
        """Publish this process's memories and merge the other processes' states.

        Returns how many states of other processes were merged. Never raises for the
        store's sake: a failure is logged and the next round tries again.
        """
        with self._lock:
            memories = dict(self._memories)
        if not memories:
            return 0
        process, now = self.process, self._clock()
        own = [
            PlannerState(entry_key=key, process=process, updated_at=now, body=memory.export())
            for key, memory in memories.items()
        ]
        try:
            self.store.put_planner_states(own)
            states = self.store.planner_states(list(memories), since=now - HORIZON)
        except StoreError as exc:
            logger.warning("planner statistics not shared, will retry: %s", exc)
            return 0
        merged = 0
        live: dict[str, set[str]] = {key: set() for key in memories}
        for state in states:
            memory = memories.get(state.entry_key)
            if memory is None or state.process == process:
                continue
            try:
                memory.merge(state.process, state.body)
            except ValueError as exc:
                if (state.entry_key, state.process) not in self._refused:
                    self._refused.add((state.entry_key, state.process))
                    logger.warning(
                        "ignoring the planner state of %s for %s: %s",
                        state.process,
                        state.entry_key,
                        exc,
                    )
                continue
            live[state.entry_key].add(state.process)
            merged += 1
        for key, memory in memories.items():
            memory.forget_processes(keep=live[key])
        return merged


_learnings: PerStore[SharedLearning] = PerStore(SharedLearning)


def learning_for(store: Store) -> SharedLearning:
    """The process's :class:`SharedLearning` for ``store``, made on first use."""
    return _learnings(store)


def _restart_after_fork() -> None:
    # A forked worker inherits the memories but not the thread that shares them.
    for learning in _learnings:
        learning.start()


os.register_at_fork(after_in_child=_restart_after_fork)
