"""The README's run command, run as a user would: a real process serving real pages."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import httpx
import pytest

from console.demo_seed import DEMO_AICONFIGS, DEMO_ENTRY_KEY
from llmopt.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
SEEDED_KEYS = [entry["configuration"].get("apiKey") for entry in DEMO_AICONFIGS["llm"]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Demo:
    base: str
    password: str
    process: subprocess.Popen[str]
    sandbox_port: int
    output: list[str] = field(default_factory=list)

    def pids(self) -> dict[str, int]:
        """The children the demo said it started, by name."""
        found = (re.search(r"^started (\w+) \(pid (\d+)\)", line) for line in self.output)
        return {m[1]: int(m[2]) for m in found if m}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "LLMOPT_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "demo",
            "--addrport",
            f"127.0.0.1:{port}",
            "--sandbox-port",
            str(sandbox_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    demo = Demo(f"http://127.0.0.1:{port}", "", process, sandbox_port)
    # Keep reading the demo's log so a full pipe never blocks it; the lines are kept.
    reader = threading.Thread(target=keep_lines, args=(process.stdout, demo.output), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("sign in as operator" in line for line in demo.output))
        [found] = [
            re.search(r"sign in as operator / (\S+)", line)
            for line in demo.output
            if "sign in as" in line
        ]
        assert found is not None
        demo.password = found[1]
        wait_until(lambda: answers(f"{demo.base}/login/"))
        yield demo
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=10)
        process.stdout.close()


def keep_lines(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def wait_until(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.1)  # polling for a process to get there, not timing the code under test


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


def test_the_demo_serves_the_configuration_list_from_the_embedded_store(demo: Demo) -> None:
    base, password = demo.base, demo.password
    with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as browser:
        login = browser.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token is not None
        page = browser.post(
            "/login/",
            data={"username": "operator", "password": password, "csrfmiddlewaretoken": token[1]},
            headers={"Referer": f"{base}/login/"},
        )
        assert page.url.path == "/"  # the overview
        page = browser.get("/config/")
        assert "anthropic:claude-sonnet-4-6" in page.text
        assert "ollama:llama3.1" in page.text
        assert "openAI:gpt-4o-mini" in page.text
        assert "Kill switch released" in page.text
        for key in SEEDED_KEYS:
            assert key is None or key not in page.text
        assert browser.get("/static/console/console.css").status_code == 200


def test_the_demo_runs_the_sandbox_and_traffic_and_stops_them_all(
    demo: Demo, tmp_path: Path
) -> None:
    sandbox = f"http://127.0.0.1:{demo.sandbox_port}"
    assert httpx.get(f"{sandbox}/_sandbox/health", timeout=5).status_code == 200
    store = SQLiteStore(tmp_path / "llmopt.sqlite3")
    try:

        def usage_recorded() -> bool:
            now = datetime.now(UTC)
            rollups = store.usage(start=now - timedelta(hours=1), end=now + timedelta(minutes=1))
            return any(r.entry_key == DEMO_ENTRY_KEY and r.cache_read_tokens for r in rollups)

        wait_until(usage_recorded)
    finally:
        store.close()
    children = demo.pids()
    assert set(children) == {"sandbox", "traffic", "celery", "console"}
    # The worker's beat polls the ledger for the traffic's batches.
    wait_until(lambda: "polling batches of 1 entries" in "".join(demo.output))

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=60) == 0
    for name, pid in children.items():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # reaped by the demo: no orphan left behind
        assert f"stopped {name}" in "".join(demo.output)
    assert not answers(f"{sandbox}/_sandbox/health")
    assert "demo stopped" in "".join(demo.output)
    for key in SEEDED_KEYS:
        assert key is None or key not in "".join(demo.output)
