"""Cancelling a recorded batch: an operator's cancel, written to the ledger before the
provider is asked, or the client's own at its deadline, which records nothing."""

from __future__ import annotations

from dataclasses import dataclass

import anthropic

from llmopt.batching._errors import provider_error
from llmopt.batching._ledger import Ledger
from llmopt.batching._tracker import provider_state
from llmopt.errors import ProviderError
from llmopt.store import BATCHES_IN_FLIGHT, BatchCancel, BatchRecord, BatchStatus


@dataclass(frozen=True, slots=True)
class BatchCanceller:
    """Asks the provider to cancel ledger records' batches (see ``AnthropicBatchClient.cancel``)."""

    client: anthropic.AsyncAnthropic
    ledger: Ledger

    async def cancel(
        self,
        record_id: str,
        *,
        by: str | None = None,
        reason: str = "",
        send_rest_standard: bool = False,
    ) -> BatchRecord:
        record = await self.ledger.get(record_id)
        if record.status not in BATCHES_IN_FLIGHT:
            return record
        if record.provider_batch_id is None:
            raise ProviderError(
                f"batch {record_id} has not reached the provider yet; nothing to cancel",
                retryable=True,
            )
        if by is not None:
            wanted = BatchCancel(
                by=by, at=self.ledger.now(), reason=reason, send_rest_standard=send_rest_standard
            )
            record = await self._record_cancel(record, wanted)
            if record.status is not BatchStatus.IN_PROGRESS:
                return record  # finished meanwhile, or the provider already has a cancel
        return await self._send_cancel(record)

    async def _record_cancel(self, record: BatchRecord, cancel: BatchCancel) -> BatchRecord:
        """The record with an operator's cancel: ``cancel``, or one recorded before it."""
        if record.cancel is not None:
            return record
        updated = await self.ledger.update(
            record.id, {"cancel": cancel}, expect={"cancel": None, "status": record.status.value}
        )
        return updated or await self.ledger.get(record.id)

    async def _send_cancel(self, record: BatchRecord) -> BatchRecord:
        assert record.provider_batch_id is not None
        try:
            batch = await self.client.messages.batches.cancel(record.provider_batch_id)
        except anthropic.AnthropicError as exc:
            error = provider_error(exc, doing=f"cancelling {record.id}")
            if record.cancel is not None:
                problem = record.cancel.model_copy(update={"problem": str(error)})
                await self.ledger.update(
                    record.id, {"cancel": problem}, expect={"cancel": record.cancel}
                )
            raise error from exc
        changes = provider_state(batch)
        if record.cancel is not None and record.cancel.problem is not None:
            changes["cancel"] = record.cancel.model_copy(update={"problem": None})
        updated = await self.ledger.update(
            record.id, changes, expect={"status": record.status.value}
        )
        return updated or await self.ledger.get(record.id)
