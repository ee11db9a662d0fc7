"""Helpers for tests that run against the sandbox.

A pytest fixture is a few lines::

    @pytest.fixture
    def sandbox() -> Iterator[SandboxServer]:
        with running_sandbox(clock=ManualClock()) as server:
            yield server
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llmopt.sandbox._options import SandboxOptions
from llmopt.sandbox._server import SandboxServer


@contextmanager
def running_sandbox(
    options: SandboxOptions | None = None, **fields: Any
) -> Iterator[SandboxServer]:
    """A started :class:`SandboxServer` on a free loopback port, stopped on exit.

    Takes a :class:`SandboxOptions` and/or its fields by keyword (``clock=``,
    ``faults=``, ``latency_ms=``, ``api_keys=``, ``batches=``, ``data_dir=``...). The
    handle gives ``base_url``, ``api_key``, ``billing()``, ``reset()``,
    ``set_faults()``/``add_fault()``/``add_batch_fault()``, ``batch_calls()``,
    ``hold_responses()`` and the shared ``state``. To test a restart, leave the block
    and open another on the same ``data_dir`` (and a clock that goes on from the first).
    """
    server = SandboxServer(options, **fields)
    server.start()
    try:
        yield server
    finally:
        server.stop()
