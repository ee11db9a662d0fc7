"""Real Celery workers (subprocesses) on the embedded broker and on Redis, against the sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from console.broker import EMBEDDED_BROKER_URL, embedded_transport_options
from console.celery import app as celery_app
from llmopt.sandbox import SandboxServer
from llmopt.store import BatchStatus, SQLiteStore

from ...waiting import wait_until
from ..celery_support import ENTRY, seed_sandbox_entry, submit_batch
from ..demo_process import ROOT
from ..redis_server import REDIS_PASSWORD, running_redis

WORKER = [sys.executable, "-m", "celery", "-A", "console.celery", "worker", "--pool=solo"]


class Worker:
    """A worker process of its own session, so stopping it also stops its beat child."""

    def __init__(self, name: str, env: dict[str, str], log: Path, *options: str) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*WORKER, "-n", f"{name}@%h", "-l", "INFO", *options],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_until(
            lambda: " ready." in self.text() or self.process.poll() is not None,
            timeout=60,
            what=f"{self.log.name} to start",
        )
        assert self.process.poll() is None, self.text()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown: ends the task in hand
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Whatever the worker forked (the embedded beat) goes with it.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@dataclass(frozen=True)
class Broker:
    url: str
    transport_options: dict[str, Any]


@pytest.fixture(params=["embedded", "redis"])
def broker(request: pytest.FixtureRequest, var_dir: Path) -> Iterator[Broker]:
    """The embedded broker (one machine) or a real Redis server (production)."""
    if request.param == "embedded":
        yield Broker(EMBEDDED_BROKER_URL, embedded_transport_options(var_dir))
    else:
        with running_redis(var_dir.parent / "redis") as url:
            yield Broker(url, {})


@pytest.fixture
def worker_env(var_dir: Path, broker: Broker) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    if broker.url != EMBEDDED_BROKER_URL:
        env["CELERY_BROKER_URL"] = broker.url
    return {
        **env,
        "LLMOPT_VAR_DIR": str(var_dir),
        "LLMOPT_SQLITE_PATH": str(var_dir / "llmopt.sqlite3"),
        "ARANGO_URL": "",
        "LLMOPT_BATCH_POLL_SECONDS": "1",
        "DJANGO_SETTINGS_MODULE": "console.settings",
    }


@contextmanager
def two_workers(env: dict[str, str], var_dir: Path) -> Iterator[tuple[Worker, Worker]]:
    """Two workers on one broker; the first runs beat, as `manage.py demo` does."""
    started: list[Worker] = []
    try:
        started.append(Worker("beat", env, var_dir.parent / "beat.log", "--beat"))
        started.append(Worker("second", env, var_dir.parent / "second.log"))
        for worker in started:
            worker.wait_ready()
        yield started[0], started[1]
    finally:
        for worker in started:
            worker.stop()


def test_workers_with_beat_collect_a_submitted_batch_once(
    sandbox: SandboxServer, var_dir: Path, broker: Broker, worker_env: dict[str, str]
) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(var_dir / "llmopt.sqlite3")
    try:
        seed_sandbox_entry(store, sandbox)
        with two_workers(worker_env, var_dir) as (beat, second):
            record = submit_batch(store, ["first question", "second question", "third"])
            # Besides beat's polls, two explicit polls at once: the workers race for it.
            with celery_app.connection_for_write(
                broker.url, transport_options=broker.transport_options
            ) as connection:
                for _ in range(2):
                    celery_app.send_task(
                        "console.tasks.poll_entry_batches", args=[ENTRY], connection=connection
                    )
            wait_until(
                lambda: store.get_batch(record.id).status is BatchStatus.ENDED,
                timeout=60,
                what="the batch to be collected",
            )
            # The explicit polls may well collect it first; beat must still send its own.
            wait_until(
                lambda: "Sending due task poll-batches (console.tasks.poll_batches)" in beat.text(),
                timeout=60,
                what="beat to send poll_batches",
            )
        # Both workers have stopped: every poll that was going to happen has happened.
        collected = store.get_batch(record.id)
        assert collected.request_counts["succeeded"] == 3
        for fingerprint in collected.requests.values():
            assert store.get_result(fingerprint, now=collected.ended_at) is not None
        assert sandbox.batch_calls()["results"] == 1
        billed = sandbox.billing().total
        assert billed.batch_requests_succeeded == billed.requests_succeeded == 3
        logs = beat.text() + second.text()
        assert "console.tasks.poll_entry_batches" in logs
        scheme = broker.url.split("://")[0]
        assert f".> transport:   {scheme}://" in beat.text()  # the broker asked for
        assert sandbox.api_key not in logs
        assert REDIS_PASSWORD not in logs
    finally:
        store.close()
