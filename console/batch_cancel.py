"""Cancelling a batch for a person: checked, sent through the entry's own client, audited."""

from __future__ import annotations

import logging

from llmopt.errors import ConfigError, ProviderError, RecordNotFound
from llmopt.store import AuditEvent, BatchRecord, BatchStatus, Store

from .audit_actions import BATCH_CANCEL

logger = logging.getLogger("console.batches")


class CancelRefused(Exception):
    """The batch was not cancelled and nothing changed; ``status`` is the HTTP status to answer.

    409 when the batch's state forbids it (already ended or canceling, not yet at the
    provider, its entry gone), 502 when the provider refused or could not be reached.
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def cancel_batch(store: Store, batch_id: str, *, actor: str, reason: str = "") -> BatchRecord:
    """Ask the provider to cancel ``batch_id`` and audit it (``batch.cancel``); the new record.

    Raises ``RecordNotFound`` for an unknown batch, :class:`CancelRefused` when it
    cannot be cancelled, and ``StoreError`` when the store fails.
    """
    record = store.get_batch(batch_id)
    if record.status in (BatchStatus.ENDED, BatchStatus.FAILED):
        raise CancelRefused(f"batch {batch_id} has already {_ended(record)}", status=409)
    if record.status is BatchStatus.CANCELING:
        raise CancelRefused(f"batch {batch_id} is already being cancelled", status=409)
    if record.provider_batch_id is None:
        raise CancelRefused(
            f"batch {batch_id} has not reached the provider yet; try again in a moment",
            status=409,
        )
    try:
        # The wrapper brings LangChain and the Anthropic SDK (seconds to import): only a
        # cancel needs them, so the console and its commands (llmopt_rollback) start without.
        from llmopt.wrapper import batch_client_for_entry

        client = batch_client_for_entry(store, record.entry_key)
    except (RecordNotFound, ConfigError) as exc:
        raise CancelRefused(
            f"batch {batch_id} cannot be cancelled: its entry {record.entry_key} cannot "
            f"reach the provider ({exc})",
            status=409,
        ) from exc
    try:
        updated = client.cancel_sync(batch_id)
    except ProviderError as exc:
        logger.warning("cancel %s by %s refused: %s", batch_id, actor, exc)
        message = f"the provider did not cancel batch {batch_id}: {exc}"
        raise CancelRefused(message, status=502) from exc
    finally:
        client.close()
    store.record_audit(
        AuditEvent(
            actor=actor,
            action=BATCH_CANCEL,
            target=batch_id,
            before={"status": record.status.value},
            after={"status": updated.status.value},
            reason=reason,
        )
    )
    logger.info("batch %s cancel requested by %s", batch_id, actor)
    return updated


def _ended(record: BatchRecord) -> str:
    return "failed" if record.status is BatchStatus.FAILED else "ended"
