"""Recording a batch in the ledger, then creating it at the provider.

The record comes first and is written only if no unfinished batch already holds one
of its requests (``Store.insert_batch_unless_held``): whatever happens next, the ledger
says a batch may exist, and no request is ever in two unfinished batches.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, cast

import anthropic
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request

from llmopt.batching._backoff import Pacing
from llmopt.batching._errors import provider_error, retry_after
from llmopt.batching._ledger import Claims, Ledger
from llmopt.batching._requests import PreparedRequest
from llmopt.batching._tracker import find_orphan, provider_state
from llmopt.errors import ProviderError
from llmopt.store import BatchRecord, BatchStatus

logger = logging.getLogger("llmopt.batching")

_LOST_CREATE_LOOKS = 3
"""Times to look for the batch a create without an answer may have made."""

Held = dict[str, tuple[BatchRecord, list[PreparedRequest]]]
"""Requests that unfinished batches already hold, under the id of the record holding them."""


@dataclass(frozen=True, slots=True)
class Submission:
    record: BatchRecord
    error: ProviderError | None = None
    ambiguous: bool = False  # the batch may exist: its requests must not be resent


@dataclass(frozen=True, slots=True)
class BatchSubmitter:
    """Records batches of one entry in the ledger and creates them at the provider."""

    client: anthropic.AsyncAnthropic
    ledger: Ledger
    pacing: Pacing
    entry_key: str

    async def record_unless_held(
        self, chunk: list[PreparedRequest], claims: Claims, held: Held
    ) -> tuple[BatchRecord | None, list[PreparedRequest]]:
        """Record a batch of ``chunk``'s requests that no unfinished batch holds yet (one
        a crashed process left running, or another process's), and its claim. Each held
        request goes to ``held``, under the record holding it.
        Returns the new record (``None``: every request was held) and its requests."""
        while chunk:
            record = self._new_record(chunk)
            # Ledger first: whatever happens next, this record says a batch may exist.
            holders = await self.ledger.insert_unless_held(record)
            if not holders:
                claims.set(record.id, record.created_at)
                return record, chunk
            rest: list[PreparedRequest] = []
            for request in chunk:
                holder = holders.get(request.fingerprint)
                if holder is None:
                    rest.append(request)
                    continue
                if holder not in held:
                    held[holder] = (await self.ledger.get(holder), [])
                held[holder][1].append(request)
            logger.info(
                "%d requests are already in unfinished batches: those answer them",
                len(chunk) - len(rest),
            )
            chunk = rest
        return None, []

    async def create(
        self, record: BatchRecord, chunk: list[PreparedRequest], claims: Claims
    ) -> Submission:
        """Create the provider's batch for ``record``, already in the ledger and claimed."""
        items = [cast(Request, request.as_batch_item()) for request in chunk]
        # The create call has no idempotency key, so the SDK must not resend it blindly
        # after a lost answer (two batches, billed twice): we retry it ourselves, and
        # after a lost answer only once the batch is known not to exist.
        creator = self.client.with_options(max_retries=0)
        attempts = self.client.max_retries + 1
        for attempt in range(attempts):
            try:
                async with self.ledger.kept_claim(record.id, claims):
                    batch = await creator.messages.batches.create(requests=items)
            except anthropic.APIStatusError as exc:
                # The API answered with an error: no batch was created.
                error = provider_error(exc, doing=f"creating batch {record.id}")
                if not error.retryable or attempt + 1 >= attempts:
                    return Submission(await self._mark_refused(record, str(error)), error)
                await self.pacing.pause(attempt, retry_after=retry_after(exc))
                continue
            except anthropic.APIConnectionError as exc:
                error = provider_error(exc, doing=f"creating batch {record.id}")
                try:
                    lost = await self._find_lost_create(record)
                except anthropic.AnthropicError:
                    logger.warning("%s: cannot tell whether the batch was created", record.id)
                    unknown = ProviderError(
                        f"{error}; whether the batch was created is unknown, "
                        "resume() will find out",
                        retryable=True,
                    )
                    return Submission(record, unknown, ambiguous=True)
                if lost is not None:
                    return Submission(await self._record_created(record, lost, claims))
                if attempt + 1 >= attempts:
                    return Submission(await self._mark_refused(record, str(error)), error)
                logger.warning("%s: create got no answer and made no batch; retrying", record.id)
                continue
            return Submission(await self._record_created(record, batch, claims))
        raise AssertionError("unreachable: the last attempt always returns")

    def _new_record(self, chunk: list[PreparedRequest]) -> BatchRecord:
        now = self.ledger.now()
        return BatchRecord(
            id=f"batch_{uuid.uuid4().hex}",
            provider="anthropic",
            model=chunk[0].model,
            entry_key=self.entry_key,
            status=BatchStatus.PENDING,
            requests={request.custom_id: request.fingerprint for request in chunk},
            created_at=now,
            last_polled_at=now,  # claimed from birth: a live submit is never "orphaned"
        )

    async def _record_created(
        self, record: BatchRecord, batch: MessageBatch, claims: Claims
    ) -> BatchRecord:
        stamp = self.ledger.next_stamp(claims.get(record.id))
        changes: dict[str, Any] = {
            "status": BatchStatus.IN_PROGRESS,
            **provider_state(batch),
            "submitted_at": self.ledger.now(),
            "last_polled_at": stamp,
            "error": None,
        }
        # Not conditional on our claim: if a resume took the record for an orphan
        # meanwhile (and found nothing yet), the batch we just created must win.
        updated = await self.ledger.update(record.id, changes, expect={"provider_batch_id": None})
        if updated is not None:
            claims.set(record.id, stamp)
            logger.info("%s created as %s (%d requests)", record.id, batch.id, len(record.requests))
            return updated
        current = await self.ledger.get(record.id)
        if current.provider_batch_id != batch.id:
            logger.error(
                "%s was matched to provider batch %s while this submit created %s",
                record.id,
                current.provider_batch_id,
                batch.id,
            )
        return current

    async def _find_lost_create(self, record: BatchRecord) -> MessageBatch | None:
        # A create that got no answer may still be on its way through the provider:
        # look a few times, with backoff, before concluding it made nothing.
        for look in range(_LOST_CREATE_LOOKS):
            if look:
                await self.pacing.pause(look - 1)
            batch = await find_orphan(self.client, self.ledger, record)
            if batch is not None:
                return batch
        return None

    async def _mark_refused(self, record: BatchRecord, reason: str) -> BatchRecord:
        failed = await self.ledger.update(
            record.id,
            {"status": BatchStatus.FAILED, "error": reason, "ended_at": self.ledger.now()},
            expect={"provider_batch_id": None},
        )
        return failed or await self.ledger.get(record.id)
