from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from typing import IO

from .conftest import MODEL, send

STARTUP_SECONDS = 30


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            found.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return found


def test_python_m_llmopt_sandbox_serves_until_sigterm() -> None:
    command = [sys.executable, "-m", "llmopt.sandbox", "--port", "0", "--latency-ms", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            output = lines_of(process.stdout)
            banner = output.get(timeout=STARTUP_SECONDS)
            base_url = banner.rsplit(" ", 1)[-1]
            body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi there"}]}

            health = send(base_url, "/_sandbox/health", method="GET", api_key=None)
            counted = send(base_url, "/v1/messages/count_tokens", body)
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()

    assert banner.startswith("llmopt sandbox listening on http://127.0.0.1:")
    assert health.json() == {"status": "ok"}
    assert counted.json() == {"input_tokens": 9}
    assert returncode == 0
    assert output.get(timeout=5) == "llmopt sandbox stopped"
