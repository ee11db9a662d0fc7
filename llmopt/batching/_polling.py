"""Waiting for a recorded batch to end: poll with backoff, cancel it at the deadline,
and read how it ended (its items, or why there are none)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import anthropic

from llmopt.batching._backoff import Pacing
from llmopt.batching._cancel import BatchCanceller
from llmopt.batching._errors import provider_error, retry_after
from llmopt.batching._ledger import Claims, Ledger
from llmopt.batching._results import ItemResult, fetch_results
from llmopt.batching._tracker import BatchTracker, Progress
from llmopt.errors import ProviderError, StoreError
from llmopt.store import BatchRecord, BatchStatus

logger = logging.getLogger("llmopt.batching")

_CANCEL_POLLS = 10
"""Polls to wait, after cancelling at the deadline, for the batch to end."""


@dataclass(frozen=True, slots=True)
class BatchEnd:
    items: dict[str, ItemResult] | None = None
    refused: bool = False  # nothing exists at the provider: resending is safe
    error: ProviderError | None = None
    record: BatchRecord | None = None  # as it ended: says whether an operator canceled it


@dataclass(frozen=True, slots=True)
class BatchPoller:
    """Waits for ledger records' batches to end, within the client's ``deadline``."""

    client: anthropic.AsyncAnthropic
    ledger: Ledger
    tracker: BatchTracker
    canceller: BatchCanceller
    pacing: Pacing

    async def wait(self, record: BatchRecord, started: datetime, claims: Claims) -> BatchEnd:
        """Poll ``record`` (collecting it when we hold it) until its batch has ended; past
        the deadline (counted from ``started``) cancel it and wait a little longer."""
        attempt = 0
        cancel_polls: int | None = None
        while True:
            hinted: float | None = None
            try:
                progress = await self.tracker.advance(await self.ledger.get(record.id), claims)
                end = await self._end_of(progress)
                if end is not None:
                    return end
            except (anthropic.AnthropicError, StoreError) as exc:
                if isinstance(exc, anthropic.APIStatusError):
                    error = provider_error(exc, doing=f"polling {record.id}")
                    if not error.retryable:  # bad key, no permission: waiting cannot help
                        logger.error("%s", error)
                        return BatchEnd(error=error)
                hinted = retry_after(exc)
                logger.warning("polling %s failed, will retry: %s", record.id, exc)
            elapsed = (self.ledger.now() - started).total_seconds()
            if cancel_polls is None:
                if elapsed >= self.pacing.deadline:
                    await self._cancel_at_deadline(record)
                    cancel_polls, attempt = 0, 0
            else:
                cancel_polls += 1
                if cancel_polls > _CANCEL_POLLS:
                    return BatchEnd(
                        error=ProviderError(
                            f"batch {record.id} did not end after it was cancelled at the "
                            "deadline; resume() will collect what it answered",
                            retryable=True,
                        )
                    )
            await self.pacing.pause(attempt, retry_after=hinted)
            attempt += 1

    async def _end_of(self, progress: Progress) -> BatchEnd | None:
        record = progress.record
        if progress.items is not None:
            return BatchEnd(items=progress.items, record=record)
        if record.status is BatchStatus.ENDED:
            # Collected by another worker: reading the results again costs nothing.
            assert record.provider_batch_id is not None
            items = await fetch_results(self.client, record.provider_batch_id)
            return BatchEnd(items=items, record=record)
        if record.status is BatchStatus.FAILED:
            reason = record.error or "the batch failed"
            return BatchEnd(refused=True, error=ProviderError(reason, retryable=True))
        return None

    async def _cancel_at_deadline(self, record: BatchRecord) -> None:
        logger.warning("%s passed the %ss deadline; cancelling it", record.id, self.pacing.deadline)
        try:
            await self.canceller.cancel(record.id)
        except (ProviderError, StoreError) as exc:
            logger.warning("cancelling %s failed: %s", record.id, exc)
