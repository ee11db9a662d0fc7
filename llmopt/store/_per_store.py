"""One helper object per store and process (the flag watcher, the usage recorder, the
planners' shared learning, the circuit board, the route telemetry), made on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

from llmopt.store._protocol import Store


class _ForStore(Protocol):
    @property
    def store(self) -> Store: ...


H = TypeVar("H", bound=_ForStore)


class PerStore(Generic[H]):
    """The process's one ``H`` per store, made by ``make(store)`` on first use.

    Keyed by the store object: a store closed and another opened at the same address
    gets a new helper."""

    def __init__(self, make: Callable[[Store], H]) -> None:
        self._make = make
        self._helpers: dict[int, H] = {}
        self._lock = threading.Lock()

    def __call__(self, store: Store) -> H:
        with self._lock:
            helper = self._helpers.get(id(store))
            if helper is None or helper.store is not store:
                helper = self._helpers[id(store)] = self._make(store)
        return helper

    def __iter__(self) -> Iterator[H]:
        with self._lock:
            return iter(list(self._helpers.values()))
