from __future__ import annotations

import getpass
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from llmopt.config import REASON_MAX_LENGTH, free_text_problem
from llmopt.errors import LLMOptError
from llmopt.killswitch import read_kill_switch
from llmopt.migrate import migrate, reverse_migration

from ...store import get_store


class Command(BaseCommand):
    help = (
        "Add the optimization flags to every aiconfigs llm entry and create the kill switch "
        "record, released (--keep-off: leave it missing; --reverse removes the flags)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--reverse", action="store_true", help="remove what was added")
        parser.add_argument("--dry-run", action="store_true", help="show the change, write nothing")
        parser.add_argument("--reason", default="", help="why, for the audit log")
        parser.add_argument(
            "--keep-off",
            action="store_true",
            help="where the store has no kill switch record, leave it missing (all "
            "optimization off until released) instead of creating it released",
        )
        parser.add_argument(
            "--backup-dir",
            type=Path,
            default=None,
            help="where the JSON backup goes (default: LLMOPT_BACKUP_DIR)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reverse"] and options["keep_off"]:
            raise CommandError("--keep-off is for the migration; --reverse leaves the kill switch")
        problem = free_text_problem(
            options["reason"], field="--reason", max_length=REASON_MAX_LENGTH
        )
        if problem is not None:
            raise CommandError(problem)
        store = get_store()
        common: dict[str, Any] = {
            "actor": f"cli:{getpass.getuser()}",
            "backup_dir": options["backup_dir"] or settings.LLMOPT_BACKUP_DIR,
            "dry_run": options["dry_run"],
            "reason": options["reason"],
        }
        try:
            if options["reverse"]:
                report = reverse_migration(store, **common)
            else:
                report = migrate(store, keep_off=options["keep_off"], **common)
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
        if report.kill_switch:
            self.stdout.write(report.kill_switch)
        switch = read_kill_switch(store)
        if switch.engaged:
            self.stdout.write(
                self.style.WARNING(
                    "kill switch engaged: all optimization is off "
                    f"({switch.problem or switch.reason})"
                )
            )
