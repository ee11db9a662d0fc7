from __future__ import annotations

import getpass
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from llmopt.errors import LLMOptError
from llmopt.killswitch import engage_kill_switch, release_kill_switch

from ...store import get_store
from ._render import describe_switch


class Command(BaseCommand):
    help = "Turn every optimization off at once (the kill switch); --restore turns them back on."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--restore", action="store_true", help="release the kill switch instead"
        )
        parser.add_argument("--reason", default="", help="why, for the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = f"cli:{getpass.getuser()}"
        change = release_kill_switch if options["restore"] else engage_kill_switch
        try:
            state = change(get_store(), actor=actor, reason=options["reason"])
        except LLMOptError as exc:
            raise CommandError(f"the kill switch could not be written: {exc}") from exc
        style = self.style.SUCCESS if options["restore"] else self.style.WARNING
        self.stdout.write(style(describe_switch(state)))
