"""A real Redis server for the broker tests: Debian's ``redis-server`` on a free port.

Redis is the console's production broker. ``.ci/run`` installs ``redis-server``; without
it the tests that start one are skipped with one line saying to install Debian's
redis-server, and with ``LLMOPT_REQUIRE_SYSTEM_TESTS=1`` (as ``.ci/run`` sets) that line
is a failure instead, so CI cannot pass them silently (see ``system_packages``). The
server keeps nothing on disk and requires a password, as a production one does, so the
tests also see that the password never reaches a log or a response.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from .demo_process import free_port
from .system_packages import require_system_binary

REDIS_PASSWORD = "redis-pw-not-real-3c1e"


@contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """Start ``redis-server`` on loopback, yield its ``redis://`` URL, stop it after."""
    binary = require_system_binary("redis-server", package="redis-server")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "redis.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--requirepass", REDIS_PASSWORD,
                "--save", "",
                "--appendonly", "no",
                "--dir", str(folder),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, password=REDIS_PASSWORD)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"redis-server did not start: {log.read_text()}") from None
                time.sleep(0.05)
        yield f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
