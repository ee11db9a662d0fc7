"""A rollback reaches a wrapper running in another process, with the default watcher, within 2 s."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.store import SQLiteStore

WATCHING_PROCESS = """
import sys, time
from llmopt.store import SQLiteStore
from llmopt.wrapper import watcher_for

watcher = watcher_for(SQLiteStore(sys.argv[1]))  # the default: re-read every second
assert watcher.wait_for(lambda s: s.available and not s.kill_switch_engaged, timeout=10)
print("watching", flush=True)
assert watcher.wait_for(lambda s: s.kill_switch_engaged, timeout=10)
print("engaged", time.time(), flush=True)
"""


def test_a_rollback_reaches_another_process_within_two_seconds(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    release_kill_switch(store, actor="setup")
    process = subprocess.Popen(
        [sys.executable, "-c", WATCHING_PROCESS, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "watching"
        engaged_at = time.time()
        engage_kill_switch(store, actor="oncall", reason="test")
        word, seen_at = process.stdout.readline().split()
        assert word == "engaged"
        assert float(seen_at) - engaged_at < 2.0
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
