"""The sandbox the Celery tasks poll, in-process and from real workers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmopt.sandbox import SandboxServer, running_sandbox


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    # Latency keeps each poll in flight long enough for concurrent polls to overlap.
    with running_sandbox(latency_ms=50) as server:
        yield server
