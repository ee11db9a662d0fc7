from __future__ import annotations

import signal

from .cli import sandbox_process
from .conftest import MODEL, send


def test_python_m_llmopt_sandbox_serves_until_sigterm() -> None:
    with sandbox_process("--latency-ms", "1") as running:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi there"}]}
        health = send(running.base_url, "/_sandbox/health", method="GET", api_key=None)
        counted = send(running.base_url, "/v1/messages/count_tokens", body)
        running.process.send_signal(signal.SIGTERM)
        returncode = running.process.wait(timeout=10)

    assert running.banner.startswith("llmopt sandbox listening on http://127.0.0.1:")
    assert health.json() == {"status": "ok"}
    assert counted.json() == {"input_tokens": 9}
    assert returncode == 0
    assert running.output.get(timeout=5) == "llmopt sandbox stopped"
