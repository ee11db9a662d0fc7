"""The README's run command, run as a user would: a real process serving real pages."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.demo_seed import DEMO_AICONFIGS

ROOT = Path(__file__).resolve().parents[2]
SEEDED_KEYS = [entry["configuration"].get("apiKey") for entry in DEMO_AICONFIGS["llm"]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    port = free_port()
    env = {**os.environ, "LLMOPT_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--addrport", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    password = ""
    deadline = time.monotonic() + 60
    while not password and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        if found := re.search(r"sign in as operator / (\S+)", line):
            password = found[1]
    assert password, "the demo never printed the operator's credentials"
    # Keep reading the server's log so a full pipe never blocks it.
    drain = threading.Thread(target=process.stdout.read, daemon=True)
    drain.start()
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/login/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)  # polling for the port to open, not synchronising test logic
    try:
        yield base, password, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        drain.join(timeout=10)
        process.stdout.close()


def test_the_demo_serves_the_configuration_list_from_the_embedded_store(
    demo: tuple[str, str, subprocess.Popen[str]],
) -> None:
    base, password, _ = demo
    with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as browser:
        login = browser.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token is not None
        page = browser.post(
            "/login/",
            data={"username": "operator", "password": password, "csrfmiddlewaretoken": token[1]},
            headers={"Referer": f"{base}/login/"},
        )
        assert page.url.path == "/config/"
        assert "anthropic:claude-sonnet-4-6" in page.text
        assert "ollama:llama3.1" in page.text
        assert "openAI:gpt-4o-mini" in page.text
        assert "Kill switch released" in page.text
        for key in SEEDED_KEYS:
            assert key is None or key not in page.text
        assert browser.get("/static/console/console.css").status_code == 200
