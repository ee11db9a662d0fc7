"""Moving one ledger record towards its end: claim, poll, collect. Shared by run and resume.

Collecting means: download the ended batch's results, store every succeeded answer
as a reusable result under its request's fingerprint, then mark the record ENDED with
its counts and cost. The record is marked last, so a crash part-way leaves it
unfinished and the next worker collects again (storing a result twice replaces it).

A PENDING record without a provider id is a submit that died between writing the
ledger and hearing back from the provider (the create call has no idempotency key).
Its batch may or may not exist; see :func:`find_orphan`.

A record with an operator's cancel (``BatchRecord.cancel``) whose batch is still
``in_progress`` at the provider is cancelled there by whoever polls it: the process
that recorded the cancel may have died before asking, or the provider refused then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anthropic
from anthropic.types.messages import MessageBatch

from llmopt.batching._errors import provider_error
from llmopt.batching._ledger import Claims, Ledger
from llmopt.batching._results import ItemResult, batch_cost, fetch_results
from llmopt.store import BATCHES_IN_FLIGHT, BatchCancel, BatchRecord, BatchStatus, StoredResult

logger = logging.getLogger("llmopt.batching")

RESULTS_KEPT = timedelta(days=29)
"""How long a batch's results stay downloadable, from its ``created_at``."""

CLOCK_SKEW = timedelta(minutes=5)
"""How far our clock and the provider's may disagree when matching creation times."""

_KNOWN_IDS_LOOKBACK = timedelta(days=1)
_STORE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a record stands after one step.

    ``held``: this caller holds the record's claim. ``batch``: the provider's view,
    when this step polled. ``items``: the results, when this step collected them.
    """

    record: BatchRecord
    held: bool
    batch: MessageBatch | None = None
    items: dict[str, ItemResult] | None = None


def provider_state(batch: MessageBatch) -> dict[str, Any]:
    """The ledger fields that mirror the provider's batch (ENDED is ours to set)."""
    changes: dict[str, Any] = {
        "provider_batch_id": batch.id,
        "request_counts": batch.request_counts.to_dict(mode="json"),
        "expires_at": batch.expires_at,
    }
    if batch.processing_status == "in_progress":
        changes["status"] = BatchStatus.IN_PROGRESS
    elif batch.processing_status == "canceling":
        changes["status"] = BatchStatus.CANCELING
    return changes


def total_requests(batch: MessageBatch) -> int:
    counts = batch.request_counts
    return counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired


async def find_orphan(
    client: anthropic.AsyncAnthropic, ledger: Ledger, record: BatchRecord
) -> MessageBatch | None:
    """The provider batch a crashed submit of ``record`` created, if it can be found.

    A candidate was created at or after the record (less ``CLOCK_SKEW``), holds as
    many requests, and belongs to no other ledger record. An ended candidate must also
    carry exactly the record's custom ids (its results show them); one still running
    cannot show them yet, so it is adopted on count and time alone and its custom ids
    are checked when it is collected. Our assigned custom ids carry a random token per
    call, which makes a false match of both count and ids practically impossible.
    Raises the SDK's errors.
    """
    lower = record.created_at - CLOCK_SKEW
    known = await ledger.provider_ids_since(lower - _KNOWN_IDS_LOOKBACK)
    wanted = set(record.requests)
    async for batch in client.messages.batches.list(limit=100):
        if batch.created_at < lower:
            break  # newest first: nothing older can be ours
        if batch.id in known or total_requests(batch) != len(wanted):
            continue
        if batch.processing_status == "ended":
            try:
                ids = set(await fetch_results(client, batch.id))
            except anthropic.AnthropicError:
                logger.warning("could not read results of %s to match %s", batch.id, record.id)
                continue
            if ids != wanted:
                continue
        return batch
    return None


class BatchTracker:
    """Steps ledger records forward for one caller's :class:`Claims`."""

    def __init__(self, client: anthropic.AsyncAnthropic, ledger: Ledger) -> None:
        self._client = client
        self._ledger = ledger

    async def advance(self, record: BatchRecord, claims: Claims) -> Progress:
        """One step: claim, resolve an orphan, poll, and collect if the batch ended.

        Returns without acting when the record is finished or someone else holds it.
        Raises the SDK's errors (``anthropic.APIError``) and ``StoreError``; the claim
        is kept, so the same caller simply tries again later.
        """
        if record.status not in BATCHES_IN_FLIGHT:
            return Progress(record, held=False)
        claimed = await self._ledger.claim(record, claims)
        if claimed is None:
            return Progress(record, held=False)
        record = claimed
        if record.provider_batch_id is None:
            record = await self._resolve_pending(record, claims)
            if record.provider_batch_id is None or record.status is BatchStatus.FAILED:
                return Progress(record, held=claims.get(record.id) is not None)
        assert record.provider_batch_id is not None
        try:
            batch = await self._client.messages.batches.retrieve(record.provider_batch_id)
        except anthropic.NotFoundError:
            return await self._fail(
                record, claims, f"provider batch {record.provider_batch_id} no longer exists"
            )
        changes = provider_state(batch)
        if record.cancel is not None:
            batch, cancel = await self._carry_out_cancel(record, batch, record.cancel)
            changes = provider_state(batch)
            if cancel != record.cancel:
                changes["cancel"] = cancel
        updated = await self._ledger.held_update(record.id, claims, changes)
        if updated is None:
            return Progress(record, held=False, batch=batch)
        if batch.processing_status != "ended":
            return Progress(updated, held=True, batch=batch)
        return await self.collect(updated, batch, claims)

    async def collect(self, record: BatchRecord, batch: MessageBatch, claims: Claims) -> Progress:
        """Store an ended batch's answers and mark its record ENDED (we hold the claim)."""
        assert record.provider_batch_id is not None
        items = await fetch_results(self._client, record.provider_batch_id)
        foreign = [custom_id for custom_id in items if custom_id not in record.requests]
        if foreign:
            return await self._fail(
                record,
                claims,
                f"provider batch {record.provider_batch_id} answers requests this record "
                f"never sent (e.g. {foreign[0]!r}): it is not this record's batch",
                batch=batch,
            )
        now = self._ledger.now()
        expires_at = batch.created_at + RESULTS_KEPT
        answered = [
            (custom_id, item.message)
            for custom_id, item in items.items()
            if item.kind == "succeeded" and item.message is not None
        ]
        # The download may have taken a while: make sure the record is still ours
        # before writing, then keep the claim fresh while writing.
        if await self._ledger.held_update(record.id, claims, {}) is None:
            return Progress(record, held=False, batch=batch)
        for start in range(0, len(answered), _STORE_CHUNK):
            if not await self._ledger.refresh_if_due(record.id, claims):
                return Progress(record, held=False, batch=batch)
            await self._ledger.put_results(
                [
                    StoredResult(
                        fingerprint=record.requests[custom_id],
                        result=message,
                        batch_id=record.id,
                        created_at=now,
                        expires_at=expires_at,
                    )
                    for custom_id, message in answered[start : start + _STORE_CHUNK]
                ]
            )
        cost = batch_cost(
            (message for _, message in answered),
            default_model=record.model,
            day=batch.created_at.date(),
        )
        ended = await self._ledger.held_update(
            record.id,
            claims,
            {
                "status": BatchStatus.ENDED,
                "ended_at": batch.ended_at or now,
                "request_counts": batch.request_counts.to_dict(mode="json"),
                "cost_estimate_usd": cost,
                "error": None,
            },
        )
        if ended is None:
            return Progress(record, held=False, batch=batch)
        logger.info(
            "collected %s (%s): %d of %d answered",
            record.id,
            record.provider_batch_id,
            len(answered),
            len(record.requests),
        )
        return Progress(ended, held=True, batch=batch, items=items)

    async def _carry_out_cancel(
        self, record: BatchRecord, batch: MessageBatch, cancel: BatchCancel
    ) -> tuple[MessageBatch, BatchCancel]:
        """Make sure the provider has the operator's cancel the ledger records: the
        console that recorded it may have died, or the provider refused it then."""
        if batch.processing_status != "in_progress":
            return batch, cancel.model_copy(update={"problem": None})
        try:
            canceled = await self._client.messages.batches.cancel(batch.id)
        except anthropic.AnthropicError as exc:
            problem = str(provider_error(exc, doing=f"cancelling {record.id}"))
            logger.warning("%s: the operator's cancel was refused again: %s", record.id, problem)
            return batch, cancel.model_copy(update={"problem": problem})
        logger.info("%s: the provider took %s's cancel", record.id, cancel.by)
        return canceled, cancel.model_copy(update={"problem": None})

    async def _resolve_pending(self, record: BatchRecord, claims: Claims) -> BatchRecord:
        batch = await find_orphan(self._client, self._ledger, record)
        if batch is None:
            progress = await self._fail(
                record,
                claims,
                "the submit stopped before the provider confirmed the batch and no "
                "matching batch exists there: nothing was sent or billed; send the "
                "requests again",
            )
            return progress.record
        logger.warning(
            "adopting provider batch %s for %s, whose submit never recorded it",
            batch.id,
            record.id,
        )
        changes = {**provider_state(batch), "submitted_at": batch.created_at}
        changes.setdefault("status", BatchStatus.IN_PROGRESS)
        adopted = await self._ledger.held_update(record.id, claims, changes)
        return adopted or record

    async def _fail(
        self,
        record: BatchRecord,
        claims: Claims,
        reason: str,
        *,
        batch: MessageBatch | None = None,
    ) -> Progress:
        logger.error("batch %s failed: %s", record.id, reason)
        failed = await self._ledger.held_update(
            record.id,
            claims,
            {"status": BatchStatus.FAILED, "error": reason, "ended_at": self._ledger.now()},
        )
        if failed is None:
            return Progress(record, held=False, batch=batch)
        return Progress(failed, held=True, batch=batch)
