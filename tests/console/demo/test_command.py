"""The README's run command, run as a user would: a real process serving real pages."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from console.demo.seed import DEMO_AICONFIGS, DEMO_ENTRY_KEY
from llmopt.store import SQLiteStore

from ...waiting import wait_until
from ..demo_process import DEMO_TIMEOUT, Demo, answers, running_demo

SEEDED_KEYS = [entry["configuration"].get("apiKey") for entry in DEMO_AICONFIGS["llm"]]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with running_demo(tmp_path) as demo:
        yield demo


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

        wait_until(usage_recorded, timeout=DEMO_TIMEOUT)
    finally:
        store.close()
    children = demo.pids()
    assert set(children) == {"sandbox", "traffic", "celery", "console"}
    # The worker's beat polls the ledger for the traffic's batches.
    wait_until(
        lambda: "polling batches of 1 entries" in "".join(demo.output),
        timeout=DEMO_TIMEOUT,
        what="beat to poll the traffic's batches",
    )

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
