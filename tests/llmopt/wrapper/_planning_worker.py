"""A worker process for the shared-learning tests: it plans requests with its store's
shared memory and shares when told to, answering over a pipe."""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any

from llmopt.caching import plan_breakpoints
from llmopt.config import OptimizationConfig
from llmopt.store import SQLiteStore
from llmopt.wrapper import SharedLearning

CONFIG = OptimizationConfig.from_dict({"optimizationEnabled": True, "cachingEnabled": True})


def serve(path: str, name: str, entry_key: str, model: str, pipe: Connection) -> None:
    learning = SharedLearning(SQLiteStore(path), process=name, interval=3600)
    memory = learning.memory(entry_key)
    while True:
        command, argument = pipe.recv()
        if command == "stop":
            pipe.send(None)
            return
        if command == "sync":
            pipe.send(learning.sync())
        else:
            plan = plan_breakpoints(argument, model=model, config=CONFIG, memory=memory)
            pipe.send([b.location for b in plan.breakpoints])


def plan_here(payloads: list[dict[str, Any]], model: str) -> list[list[str]]:
    """The same requests planned by one memory in one process."""
    from llmopt.caching import PrefixMemory

    memory = PrefixMemory()
    return [
        [
            b.location
            for b in plan_breakpoints(p, model=model, config=CONFIG, memory=memory).breakpoints
        ]
        for p in payloads
    ]
