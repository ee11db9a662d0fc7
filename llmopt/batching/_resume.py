"""Picking up an entry's unfinished ledger records and collecting those that ended (a
periodic poller's pass, or a fresh process after a crash)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from llmopt.batching._backoff import Pacing
from llmopt.batching._errors import retry_after
from llmopt.batching._ledger import Claims, Ledger
from llmopt.batching._tracker import BatchTracker, Progress
from llmopt.store import BATCHES_IN_FLIGHT, BatchRecord

logger = logging.getLogger("llmopt.batching")

_RESUME_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class BatchResumer:
    """Steps every unfinished record of one entry forward (see ``AnthropicBatchClient.resume``)."""

    ledger: Ledger
    tracker: BatchTracker
    pacing: Pacing
    entry_key: str

    async def resume(self, *, wait: bool) -> list[BatchRecord]:
        started = self.ledger.now()
        claims = Claims()
        acted: dict[str, BatchRecord] = {}
        gate = asyncio.Semaphore(_RESUME_CONCURRENCY)
        attempt = 0
        while True:
            unfinished = await self.ledger.unfinished(self.entry_key)
            if not unfinished:
                break
            hints: list[float] = []
            steps = await asyncio.gather(
                *(self._step(record, claims, gate, hints) for record in unfinished)
            )
            for step in steps:
                if step is not None and step.held:
                    acted[step.record.id] = step.record
            left = [
                record
                for record, step in zip(unfinished, steps, strict=True)
                if step is None or step.record.status in BATCHES_IN_FLIGHT
            ]
            if not wait or not left:
                break
            if (self.ledger.now() - started).total_seconds() >= self.pacing.deadline:
                logger.warning("resume gave up waiting on %d batches at the deadline", len(left))
                break
            await self.pacing.pause(attempt, retry_after=max(hints, default=None))
            attempt += 1
        return sorted(acted.values(), key=lambda record: (record.created_at, record.id))

    async def _step(
        self,
        record: BatchRecord,
        claims: Claims,
        gate: asyncio.Semaphore,
        hints: list[float],
    ) -> Progress | None:
        async with gate:
            try:
                return await self.tracker.advance(record, claims)
            except Exception as exc:  # one bad batch must not stall the others
                hint = retry_after(exc)
                if hint is not None:
                    hints.append(hint)
                logger.warning("resuming %s failed, will retry: %s", record.id, exc, exc_info=True)
                return None
