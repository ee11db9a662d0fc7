"""Real Chromium (Debian's ``chromium``, driven by Playwright) against the real demo.

The console under test is ``manage.py demo`` run as a user runs it: its own process, the
embedded store under a temporary var dir, the sandbox, the traffic generator, the Celery
worker and beat. One demo serves every journey of a module (starting it costs seconds)
and stops with it, so the rest of the suite does not share the machine with it.
Playwright's sync API keeps an event loop running in this thread while it is open: it is
module-scoped too, or asyncio tests that run later would find that loop.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``.ci/run``
installs it with apt-get). Without it the tests fail and say how to install it, rather
than skip, so CI cannot pass them silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("LLMOPT_CHROMIUM", "/usr/bin/chromium")
# The flags this workplace's closed network needs (no background calls to Google).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class Demo:
    url: str
    username: str
    password: str
    var_dir: Path
    log: list[str]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    var_dir = Path(tempfile.mkdtemp(prefix="llmopt-browser-"))
    port = _free_port()
    env = {**os.environ, "LLMOPT_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--addrport", f"127.0.0.1:{port}"]
        + ["--sandbox-port", str(_free_port())],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    log: list[str] = []
    password = ""
    deadline = time.monotonic() + 90
    while not password and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        log.append(line)
        if found := re.search(r"sign in as (\S+) / (\S+)", line):
            username, password = found[1], found[2]
    assert password, "the demo never printed the operator's credentials:\n" + "".join(log)
    drain = threading.Thread(target=lambda: log.extend(process.stdout or []), daemon=True)
    drain.start()
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/login/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)  # waiting for the port to open
    try:
        yield Demo(url, username, password, var_dir, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        drain.join(timeout=10)
        process.stdout.close()
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), "
            "as .ci/run does, or point LLMOPT_CHROMIUM at a Chromium binary"
        )
    with sync_playwright() as playwright:
        # launch() gives Chromium a new empty profile directory of its own each time.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    """A fresh browser context signed in as the demo's operator."""
    context = browser.new_context(base_url=demo.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", demo.username)
    page.fill("input[name=password]", demo.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
    try:
        yield page
    finally:
        context.close()
