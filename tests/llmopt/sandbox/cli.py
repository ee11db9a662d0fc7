"""``python -m llmopt.sandbox`` as a child process, started as an operator starts it."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

STARTUP_SECONDS = 30


@dataclass(frozen=True)
class SandboxProcess:
    process: subprocess.Popen[str]
    banner: str
    output: queue.Queue[str]
    """The lines it prints after the banner, as they come."""

    @property
    def base_url(self) -> str:
        return self.banner.rsplit(" ", 1)[-1]


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            found.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return found


@contextmanager
def sandbox_process(*options: str) -> Iterator[SandboxProcess]:
    """``python -m llmopt.sandbox --port 0 *options`` once it has printed its banner;
    killed at the end if it is still running."""
    command = [sys.executable, "-m", "llmopt.sandbox", "--port", "0", *options]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            output = lines_of(process.stdout)
            banner = output.get(timeout=STARTUP_SECONDS)
            yield SandboxProcess(process, banner, output)
        finally:
            if process.poll() is None:
                process.kill()
