"""The demo's process supervisor: children are named when they die and never outlive it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from console.demo_processes import ChildFailed, ChildSpec, Supervisor

ROOT = Path(__file__).resolve().parents[2]
# Silent: a child writing to a dead supervisor's pipe would die of that, proving nothing.
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def alive(pid: int) -> bool:
    """Running: not gone, and not a zombie waiting for a parent (init may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def eventually(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def started_pid(lines: list[str], name: str) -> int:
    found = next(re.finditer(rf"^started {name} \(pid (\d+)\)$", "\n".join(lines), re.M), None)
    assert found, lines
    return int(found[1])


def test_a_child_that_exits_is_named_and_the_others_are_stopped() -> None:
    lines: list[str] = []
    with Supervisor(lines.append, poll_interval=0.05) as supervisor:
        supervisor.start(ChildSpec("sleeper", SLEEPER))
        supervisor.start(ChildSpec("quitter", [sys.executable, "-c", "raise SystemExit(3)"]))
        assert supervisor.wait() == "quitter exited with code 3"
        assert supervisor.failed
        sleeper = started_pid(lines, "sleeper")
        assert alive(sleeper)
    assert "stopped sleeper" in lines and not alive(sleeper)


def test_a_child_that_never_becomes_ready_fails_the_start() -> None:
    with (
        Supervisor(lambda _line: None, poll_interval=0.05) as supervisor,
        pytest.raises(ChildFailed, match="never was not ready after 1s"),
    ):
        supervisor.start(ChildSpec("never", SLEEPER, ready=lambda: False, ready_timeout=1))


SUPERVISOR = """
import sys, time
from console.demo_processes import ChildSpec, Supervisor
supervisor = Supervisor(lambda line: print(line, flush=True))
for name in ("first", "second"):
    supervisor.start(ChildSpec(name, sys.argv[1:]))
time.sleep(120)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_children_stop_when_the_supervisor_is_killed_outright() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, *SLEEPER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(2)]
        pids = [started_pid(lines, name) for name in ("first", "second")]
        assert all(alive(pid) for pid in pids)
        os.kill(process.pid, signal.SIGKILL)  # no handler, no clean-up: only the kernel acts
        process.wait(timeout=10)
        assert eventually(lambda: not any(alive(pid) for pid in pids)), "children orphaned"
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
