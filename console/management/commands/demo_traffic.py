from __future__ import annotations

import asyncio
import signal
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from llmopt import OptimizedLLMWrapper
from llmopt.errors import LLMOptError

from ...demo.seed import DEMO_ENTRY_KEY
from ...demo.traffic import TrafficGenerator, build_model, shutdown
from ...store import get_store


class Command(BaseCommand):
    help = "Call an llm entry like a busy backend (questions and batches) until stopped."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--entry", default=DEMO_ENTRY_KEY, help="the llm entry to drive (provider:model)"
        )
        parser.add_argument("--seed", type=int, default=None, help="repeatable questions")

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        try:
            model = build_model(store, options["entry"])
        except LLMOptError as exc:
            raise CommandError(f"cannot build a model for {options['entry']}: {exc}") from exc
        if not isinstance(model, OptimizedLLMWrapper):
            self.stderr.write(
                f"{options['entry']} has optimization off: its calls go to the standard API"
            )
        generator = TrafficGenerator(model, seed=options["seed"])
        self.stdout.write(f"traffic: driving {options['entry']} until SIGINT or SIGTERM")
        try:
            asyncio.run(self._run(generator))
        finally:
            # Already stopping: a second Ctrl-C (a terminal and `uv run` both send one)
            # must not interrupt the bounded shutdown halfway.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
            shutdown(model)
        self.stdout.write("traffic: stopped")

    async def _run(self, generator: TrafficGenerator) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, generator.stop)
        await generator.run()
