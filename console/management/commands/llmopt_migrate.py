from __future__ import annotations

import getpass
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from llmopt.errors import LLMOptError
from llmopt.killswitch import read_kill_switch
from llmopt.migrate import migrate, reverse_migration

from ...store import get_store


class Command(BaseCommand):
    help = "Add the optimization flags to every aiconfigs llm entry (--reverse removes them)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--reverse", action="store_true", help="remove what was added")
        parser.add_argument("--dry-run", action="store_true", help="show the change, write nothing")
        parser.add_argument("--reason", default="", help="why, for the audit log")
        parser.add_argument(
            "--backup-dir",
            type=Path,
            default=None,
            help="where the JSON backup goes (default: LLMOPT_BACKUP_DIR)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        run = reverse_migration if options["reverse"] else migrate
        try:
            report = run(
                store,
                actor=f"cli:{getpass.getuser()}",
                backup_dir=options["backup_dir"] or settings.LLMOPT_BACKUP_DIR,
                dry_run=options["dry_run"],
                reason=options["reason"],
            )
        except LLMOptError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.diff_lines():
            self.stdout.write(line)
        if report.dry_run:
            self.stdout.write("dry run: nothing was written")
        elif not report.changes:
            self.stdout.write(self.style.SUCCESS("nothing to change: already done"))
        else:
            self.stdout.write(f"backup of the document before the change: {report.backup_path}")
            self.stdout.write(self.style.SUCCESS(f"written, new revision {report.revision}"))
        switch = read_kill_switch(store)
        if switch.engaged:
            self.stdout.write(
                self.style.WARNING(
                    "kill switch engaged: all optimization is off "
                    f"({switch.problem or switch.reason})"
                )
            )
