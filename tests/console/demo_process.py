"""``manage.py demo`` run as a user runs it, for the tests that need the whole thing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from ..waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEMO_USER = "operator"
DEMO_TIMEOUT = 90.0
"""Seconds to wait for the demo to get somewhere: it starts four processes, on a busy machine."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Demo:
    """A running demo: where it serves, the operator's password, and every line it printed."""

    base: str
    password: str
    process: subprocess.Popen[str]
    sandbox_port: int
    output: list[str] = field(default_factory=list)

    def pids(self) -> dict[str, int]:
        """The children the demo said it started, by name."""
        found = (re.search(r"^started (\w+) \(pid (\d+)\)", line) for line in self.output)
        return {m[1]: int(m[2]) for m in found if m}


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


@contextmanager
def running_demo(var_dir: Path) -> Iterator[Demo]:
    """The demo on free ports with its data under ``var_dir``, signed-in-able once yielded.

    Stopped with SIGTERM on exit (its whole process group is killed if it hangs), unless
    the test stopped it already.
    """
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "LLMOPT_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--addrport", f"127.0.0.1:{port}"]
        + ["--sandbox-port", str(sandbox_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    demo = Demo(f"http://127.0.0.1:{port}", "", process, sandbox_port)
    # Keep reading the demo's log so a full pipe never blocks it; the lines are kept.
    reader = threading.Thread(target=_keep_lines, args=(process.stdout, demo.output), daemon=True)
    reader.start()
    try:
        wait_until(
            lambda: any("sign in as" in line for line in demo.output),
            timeout=DEMO_TIMEOUT,
            what="the demo to print its password",
        )
        [found] = [
            re.search(rf"sign in as {DEMO_USER} / (\S+)", line)
            for line in demo.output
            if "sign in as" in line
        ]
        assert found is not None, "".join(demo.output)
        demo.password = found[1]
        wait_until(
            lambda: answers(f"{demo.base}/login/"), timeout=DEMO_TIMEOUT, what="the sign-in page"
        )
        yield demo
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=10)
        process.stdout.close()


def _keep_lines(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)
