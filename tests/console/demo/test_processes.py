"""The demo's process supervisor: children are named when they die and never outlive it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from console.demo.processes import ChildFailed, ChildSpec, Supervisor

from ...waiting import wait_until
from ..demo_process import ROOT

# Silent: a child writing to a dead supervisor's pipe would die of that, proving nothing.
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def alive(pid: int) -> bool:
    """Running: not gone, and not a zombie waiting for a parent (init may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


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
from console.demo.processes import ChildSpec, Supervisor
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
        wait_until(
            lambda: not any(alive(pid) for pid in pids), timeout=10, what="the orphans to stop"
        )
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
