"""Process supervision for ``manage.py demo``: start children, watch them, stop them all.

Each child runs in its own session (process group), so a Ctrl-C in the terminal
reaches only the supervisor, which then stops the children itself, in reverse start
order (the console first, the sandbox last, so no child loses what it depends on
while it still runs): SIGTERM, then SIGKILL after ``stop_timeout`` seconds. When any
child exits on its own, the supervisor says which and stops the others. A child's
output is copied line by line to the supervisor's output, prefixed with its name.
Should the supervisor itself be killed outright, each child gets SIGTERM from the
kernel (see ``console.demo.child``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Run as a file, not a module: it needs nothing but the standard library.
CHILD_LAUNCHER = [sys.executable, "-S", str(Path(__file__).with_name("child.py"))]


@dataclass(frozen=True)
class ChildSpec:
    """A child process: its name (in logs), its command, and when it counts as ready.

    ``ready`` is asked repeatedly after the start until it returns true; the next
    child starts only then. ``None``: ready as soon as it is started.
    """

    name: str
    argv: Sequence[str]
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 60.0
    env: dict[str, str] | None = None


class ChildFailed(RuntimeError):
    """A child exited, or never became ready; the message says which and how."""


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[str]
    copier: threading.Thread = field(init=False)


class Supervisor:
    """Runs the demo's children; use as a context manager so they always stop.

    ``write`` receives every line to show (thread-safe here). ``poll_interval`` is how
    often children are checked for having exited.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        stop_timeout: float = 10.0,
        poll_interval: float = 0.2,
    ) -> None:
        self._write_line = write
        self._write_lock = threading.Lock()
        self._children: list[_Child] = []
        self._stop_requested = threading.Event()
        self._stop_reason = ""
        self.failed = False
        """Whether the stop came from a child failing rather than a request."""
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def say(self, line: str) -> None:
        with self._write_lock:
            self._write_line(line)

    def request_stop(self, reason: str, *, failure: bool = False) -> None:
        """Make :meth:`wait` return ``reason``; safe from a signal handler."""
        if not self._stop_requested.is_set():
            self._stop_reason, self.failed = reason, failure
            self._stop_requested.set()

    def start(self, spec: ChildSpec) -> None:
        """Start ``spec`` and wait until it is ready.

        Raises :class:`ChildFailed` when it exits or is not ready in time, and
        ``OSError`` when it cannot be started at all. Call it from the main thread: the
        kernel's stop-on-supervisor-death fires when the starting thread ends.
        """
        process = subprocess.Popen(
            [*CHILD_LAUNCHER, str(os.getpid()), *spec.argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
            env=spec.env,
        )
        child = _Child(spec, process)
        child.copier = threading.Thread(
            target=self._copy_output, args=(child,), name=f"demo-{spec.name}-output", daemon=True
        )
        child.copier.start()
        self._children.append(child)
        self.say(f"started {spec.name} (pid {process.pid})")
        if spec.ready is None:
            return
        deadline = time.monotonic() + spec.ready_timeout
        while not spec.ready():
            if process.poll() is not None:
                raise ChildFailed(f"{spec.name} exited with code {process.returncode} at start")
            if self._stop_requested.is_set():
                return
            if time.monotonic() > deadline:
                raise ChildFailed(f"{spec.name} was not ready after {spec.ready_timeout:.0f}s")
            self._stop_requested.wait(self.poll_interval)

    def wait(self) -> str:
        """Block until a stop is requested or a child exits; returns why."""
        while not self._stop_requested.wait(self.poll_interval):
            for child in self._children:
                code = child.process.poll()
                if code is not None:
                    self.request_stop(f"{child.spec.name} exited with code {code}", failure=True)
        return self._stop_reason

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def stop_all(self) -> None:
        """Stop every child, newest first: SIGTERM, then SIGKILL if it lingers."""
        while self._children:
            child = self._children.pop()
            self._stop(child)
            child.copier.join(timeout=5)

    def _stop(self, child: _Child) -> None:
        process, name = child.process, child.spec.name
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.say(f"{name} did not stop within {self.stop_timeout:.0f}s; killing it")
            # Its whole group: anything it started itself goes too, no orphans.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.say(f"stopped {name}")

    def _copy_output(self, child: _Child) -> None:
        stream: IO[str] | None = child.process.stdout
        assert stream is not None
        with stream:
            for line in stream:
                self.say(f"[{child.spec.name}] {line.rstrip()}")
