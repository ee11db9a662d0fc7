"""The door, probed as an attacker would: reading the data files or ``ps``.

=========================  =================================================================
what                       enforced
=========================  =================================================================
data at rest               ``LLMOPT_VAR_DIR`` 0700, databases and keys 0600, no secret in argv
=========================  =================================================================
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.demo_seed import DEMO_AICONFIGS, DEMO_API_KEY

from .demo_process import ROOT, running_demo

pytestmark = pytest.mark.django_db

# -- secrets at rest and on command lines -------------------------------------------------


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def assert_owner_only(var_dir: Path) -> None:
    expected = [var_dir, var_dir / "broker", var_dir / "backups", var_dir / "secret_key"]
    databases = [p for p in var_dir.iterdir() if ".sqlite3" in p.name]
    assert {p.name for p in databases} >= {"llmopt.sqlite3", "console.sqlite3"}
    backups = list((var_dir / "backups").iterdir())
    assert backups  # the migration's backup holds the API keys
    loose = [
        f"{p} {stat.filemode(p.stat().st_mode)}"
        for p in expected + databases + backups
        if not owner_only(p)
    ]
    assert loose == []


def test_the_demo_keeps_its_data_owner_only(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"  # not there yet: the demo creates it
    env = {**os.environ, "LLMOPT_VAR_DIR": str(var_dir)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert_owner_only(var_dir)


def test_the_demo_builds_no_command_line_with_a_secret(settings: Any) -> None:
    from console.management.commands.demo import Command

    options = {"sandbox_port": 8765, "addrport": "127.0.0.1:8000", "no_traffic": False}
    children = Command()._children(options)
    secrets = [
        key for key in (e["configuration"].get("apiKey") for e in DEMO_AICONFIGS["llm"]) if key
    ]
    for child in children:
        assert not any(secret in arg for arg in child.argv for secret in secrets), child.name
    [sandbox] = [child for child in children if child.name == "sandbox"]
    assert sandbox.env is not None and DEMO_API_KEY in sandbox.env.values()


@pytest.mark.timeout(180)
def test_the_running_demo_shows_no_api_key_in_ps_and_its_files_stay_owner_only(
    tmp_path: Path,
) -> None:
    var_dir = tmp_path / "var"
    with running_demo(var_dir) as demo:
        children = demo.pids()
        assert set(children) >= {"sandbox", "celery", "console"}
        for name, pid in {**children, "demo": demo.process.pid}.items():
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            assert not any(DEMO_API_KEY.encode() in arg for arg in argv), name
        sandbox = f"http://127.0.0.1:{demo.sandbox_port}/v1/messages"
        body = {
            "model": "claude-sonnet-4-6",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
        }
        headers = {"anthropic-version": "2023-06-01"}
        # The sandbox took the key from its environment: it accepts that key and no other.
        good = httpx.post(sandbox, json=body, headers={**headers, "x-api-key": DEMO_API_KEY})
        bad = httpx.post(sandbox, json=body, headers={**headers, "x-api-key": "sk-ant-guess"})
        assert (good.status_code, bad.status_code) == (200, 401)
        # While it runs, with SQLite's side files (-wal, -shm) in place.
        assert_owner_only(var_dir)
