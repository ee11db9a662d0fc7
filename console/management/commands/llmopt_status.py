from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from llmopt.config import load_document
from llmopt.errors import LLMOptError
from llmopt.killswitch import env_switch, read_kill_switch
from llmopt.store import BATCHES_IN_FLIGHT

from ...configuration.summaries import optimization_summary
from ...store import get_store
from ._render import describe_switch


class Command(BaseCommand):
    help = (
        "Show the kill switch (and LLM_OPTIMIZATION_ENABLED in this process), every entry's "
        "optimization, active batches and today's savings."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        self.stdout.write(describe_switch(read_kill_switch(store)))
        off_here = env_switch()
        if off_here is not None:
            self.stdout.write(f"this process: {off_here}")
        try:
            document = load_document(store)
            active = store.count_batches(statuses=BATCHES_IN_FLIGHT)
            now = datetime.now(UTC)
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            rollups = store.usage_summary(start=midnight, end=next_hour)
        except LLMOptError as exc:
            raise CommandError(f"the store cannot be read: {exc}") from exc
        self.stdout.write(f"entries (revision {document.revision}):")
        for entry in document.entries:
            problems = "; ".join(str(p) for p in entry.problems)
            line = f"  {entry.key}: {optimization_summary(entry)}"
            self.stdout.write(line + (f"  [{problems}]" if problems else ""))
        self.stdout.write(f"active batches: {active}")
        cost = sum(r.cost_usd for r in rollups)
        baseline = sum(r.baseline_cost_usd for r in rollups)
        calls = sum(r.calls for r in rollups)
        self.stdout.write(
            f"today: {calls} calls, cost ${cost:.4f}, without optimization ${baseline:.4f}, "
            f"saved ${baseline - cost:.4f}"
        )
