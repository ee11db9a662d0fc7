from __future__ import annotations

import secrets
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from llmopt.killswitch import read_kill_switch, release_kill_switch
from llmopt.migrate import migrate
from llmopt.store import AuditEvent, DocumentName

from ...demo_seed import DEMO_ACTOR, DEMO_AICONFIGS
from ...store import get_store

DEMO_USER = "operator"


class Command(BaseCommand):
    help = "Run the console on embedded defaults with demo data: no services needed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="where to serve")
        parser.add_argument(
            "--no-serve", action="store_true", help="prepare the data and account, then exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        password = self._operator_password()
        self._seed_store()
        self.stdout.write(
            self.style.SUCCESS(
                f"llmopt console: http://{options['addrport']}/  "
                f"sign in as {DEMO_USER} / {password}"
            )
        )
        if options["no_serve"]:
            return
        # --insecure serves static files without DEBUG; this is a one-machine demo server.
        call_command("runserver", options["addrport"], use_reloader=False, insecure_serving=True)

    def _operator_password(self) -> str:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USER)
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name="operator"))
        return password

    def _seed_store(self) -> None:
        store = get_store()
        if store.read_document(DocumentName.AI_CONFIG) is None:
            store.write_document(
                DocumentName.AI_CONFIG,
                DEMO_AICONFIGS,
                expected_revision=None,
                audit=AuditEvent(
                    actor=DEMO_ACTOR, action="config.seed", target="aiconfigs", reason="demo data"
                ),
            )
            self.stdout.write("seeded the aiconfigs document with demo entries")
        migrate(store, actor=DEMO_ACTOR, backup_dir=settings.LLMOPT_BACKUP_DIR)
        if read_kill_switch(store).problem:
            release_kill_switch(store, actor=DEMO_ACTOR, reason="demo start")
