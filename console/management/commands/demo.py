from __future__ import annotations

import os
import secrets
import signal
import sys
import urllib.error
import urllib.request
from argparse import ArgumentParser
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from llmopt.errors import RecordNotFound
from llmopt.killswitch import read_kill_switch, release_kill_switch
from llmopt.migrate import migrate
from llmopt.sandbox import API_KEYS_VARIABLE
from llmopt.store import AuditEvent, DocumentName

from ...audit.actions import CONFIG_SEED
from ...context.indexes import index_folder
from ...demo.context import DEMO_INDEX, seed_demo_context
from ...demo.processes import ChildFailed, ChildSpec, Supervisor
from ...demo.quality import seed_demo_quality
from ...demo.seed import (
    DEMO_ACTOR,
    DEMO_AICONFIGS,
    DEMO_API_KEY,
    DEMO_ENTRY_KEY,
    DEMO_SANDBOX_PORT,
    point_at_sandbox,
    sandbox_url,
)
from ...store import get_store

DEMO_USER = "operator"

# Sandbox batches: each wave of 4 requests takes 4 s, so the demo's batches of 10-50
# prompts run 12-52 s and their progress bars move while you watch.
BATCH_ITEM_SECONDS = 4
BATCH_PARALLELISM = 4


def _answers(url: str) -> Callable[[], bool]:
    """A readiness probe: whether ``url`` answers HTTP at all (any status)."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    return probe


class Command(BaseCommand):
    help = "Run the console, a sandbox and demo traffic on embedded defaults: no services needed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="where to serve")
        parser.add_argument(
            "--sandbox-port",
            type=int,
            default=DEMO_SANDBOX_PORT,
            help="port of the local Anthropic sandbox (default %(default)s)",
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="prepare the data and account, then exit"
        )
        parser.add_argument("--no-traffic", action="store_true", help="start no traffic generator")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        password = self._operator_password()
        self._seed_store(sandbox_url(options["sandbox_port"]))
        self.stdout.write(
            self.style.SUCCESS(
                f"llmopt console: http://{options['addrport']}/  "
                f"sign in as {DEMO_USER} / {password}"
            )
        )
        if options["no_serve"]:
            return
        self._supervise(options)

    # -- the processes ------------------------------------------------------------

    def _supervise(self, options: dict[str, Any]) -> None:
        supervisor = Supervisor(self.stdout.write)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            supervisor.request_stop(f"{signal.Signals(signum).name} received")

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, on_signal)
        with supervisor:
            try:
                for child in self._children(options):
                    if supervisor.stop_requested:
                        break
                    supervisor.start(child)
            except ChildFailed as exc:
                supervisor.request_stop(str(exc), failure=True)
            if not supervisor.stop_requested:
                supervisor.say(
                    f"demo running: console http://{options['addrport']}/, sandbox "
                    f"{sandbox_url(options['sandbox_port'])}; Ctrl-C stops everything"
                )
            reason = supervisor.wait()
            supervisor.say(f"stopping the demo: {reason}")
        supervisor.say("demo stopped")
        if supervisor.failed:
            raise CommandError(reason)

    def _children(self, options: dict[str, Any]) -> list[ChildSpec]:
        python, manage = sys.executable, str(Path(settings.BASE_DIR) / "manage.py")
        url = sandbox_url(options["sandbox_port"])
        children = [
            ChildSpec(
                "sandbox",
                [
                    python,
                    "-m",
                    "llmopt.sandbox",
                    "--port",
                    str(options["sandbox_port"]),
                    "--data-dir",
                    str(Path(settings.VAR_DIR) / "sandbox"),
                    "--batch-item-seconds",
                    str(BATCH_ITEM_SECONDS),
                    "--batch-parallelism",
                    str(BATCH_PARALLELISM),
                ],
                ready=_answers(f"{url}/_sandbox/health"),
                # In its environment, not its argv: any local user can read a command line.
                env={**os.environ, API_KEYS_VARIABLE: DEMO_API_KEY},
            )
        ]
        if not options["no_traffic"]:
            children.append(ChildSpec("traffic", [python, manage, "demo_traffic"]))
        # The Celery worker with its beat: batch polling, usage roll-ups, pruning. The
        # embedded broker (files under VAR_DIR) needs no service; solo pool, one process.
        children.append(
            ChildSpec(
                "celery",
                [python, "-m", "celery", "-A", "console.celery", "worker", "--beat"]
                + ["--pool=solo", "--loglevel=INFO"],
            )
        )
        children.append(
            ChildSpec(
                "console",
                # --insecure serves static files without DEBUG; a one-machine demo server.
                [python, manage, "runserver", options["addrport"], "--noreload", "--insecure"],
                ready=_answers(f"http://{options['addrport']}/healthz"),
            )
        )
        return children

    # -- the data -----------------------------------------------------------------

    def _operator_password(self) -> str:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USER)
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name="operator"))
        return password

    def _seed_store(self, url: str) -> None:
        store = get_store()
        if store.read_document(DocumentName.AI_CONFIG) is None:
            store.write_document(
                DocumentName.AI_CONFIG,
                DEMO_AICONFIGS,
                expected_revision=None,
                audit=AuditEvent(
                    actor=DEMO_ACTOR, action=CONFIG_SEED, target="aiconfigs", reason="demo data"
                ),
            )
            self.stdout.write("seeded the aiconfigs document with demo entries")
        try:
            if point_at_sandbox(store, url):
                self.stdout.write(f"pointed the Anthropic demo entry at the sandbox, {url}")
        except RecordNotFound:
            self.stderr.write(
                f"the aiconfigs document has no {DEMO_ENTRY_KEY} entry: the traffic has "
                "nothing to drive"
            )
        migrate(store, actor=DEMO_ACTOR, backup_dir=settings.LLMOPT_BACKUP_DIR)
        if seed_demo_quality(store):
            self.stdout.write("wrote a day of demo quality scores (made-up, for the Quality page)")
        chunks = seed_demo_context(index_folder())
        if chunks is not None:
            self.stdout.write(
                f"built the retrieval index {DEMO_INDEX} ({chunks} chunks of Python's own "
                "documentation topics, for the Context page)"
            )
        if read_kill_switch(store).problem:
            release_kill_switch(store, actor=DEMO_ACTOR, reason="demo start")
