"""Cancelling a batch for a person: checked, recorded and audited at once; the provider is
asked in the background.

A cancel is first of all a ``BatchCancel`` written into the batch's ledger record (a
conditional update: one person's cancel wins, and never on a batch that has ended).
From then on every process that waits for the batch knows not to resend what the
cancel stops (or, with ``send_rest_standard``, to send it at once at the standard
price). The provider's cancel call needs the Anthropic SDK, which a console process
loads only on first use (seconds), so it runs on a thread of its own
(:data:`PROVIDER_CALLS`) and the person gets an answer at once. Should this process
die first, or the provider refuse, whoever polls the batch next (the waiting run, the
Celery poller) asks the provider again: the record says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.utils import timezone

from llmopt.config import load_document
from llmopt.errors import LLMOptError, ProviderError
from llmopt.providers import ProviderCapabilities
from llmopt.store import AuditEvent, BatchCancel, BatchRecord, BatchStatus, Store

from ..audit.actions import BATCH_CANCEL

logger = logging.getLogger("console.batches")

STOP = "stop"
SEND_REST_STANDARD = "send_rest_standard"


class CancelRefused(Exception):
    """The batch was not cancelled and nothing changed; ``status`` is the HTTP status to answer.

    409 when the batch's state forbids it: already ended, already being cancelled, not
    yet at the provider, or its entry cannot reach the provider.
    """

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def request_cancel(
    store: Store,
    batch_id: str,
    *,
    actor: str,
    reason: str = "",
    send_rest_standard: bool = False,
) -> BatchRecord:
    """Record an operator's cancel of ``batch_id``, audit it (``batch.cancel``) and have the
    provider asked in the background; returns the record with its ``cancel``.

    Reads and writes the store only, so it answers at once. Raises ``RecordNotFound``
    for an unknown batch, :class:`CancelRefused` when it cannot be cancelled, and
    ``StoreError`` when the store fails.
    """
    record = store.get_batch(batch_id)
    _check_cancellable(record)
    _check_entry(store, record)
    cancel = BatchCancel(
        by=actor, at=timezone.now(), reason=reason, send_rest_standard=send_rest_standard
    )
    updated = store.update_batch(
        batch_id, {"cancel": cancel}, expect={"cancel": None, "status": record.status.value}
    )
    if updated is None:  # someone else cancelled it, or it ended, since we read it
        _check_cancellable(store.get_batch(batch_id))
        raise CancelRefused(f"batch {batch_id} changed meanwhile; look again")
    store.record_audit(
        AuditEvent(
            actor=actor,
            action=BATCH_CANCEL,
            target=batch_id,
            before={"status": record.status.value},
            after={
                "status": updated.status.value,
                "then": SEND_REST_STANDARD if send_rest_standard else STOP,
            },
            reason=reason,
        )
    )
    logger.info(
        "batch %s cancel requested by %s (%s)",
        batch_id,
        actor,
        "send the rest at the standard price" if send_rest_standard else "stop",
    )
    PROVIDER_CALLS.start(store, updated)
    return updated


def _check_cancellable(record: BatchRecord) -> None:
    if record.status in (BatchStatus.ENDED, BatchStatus.FAILED):
        ended = "failed" if record.status is BatchStatus.FAILED else "ended"
        raise CancelRefused(f"batch {record.id} has already {ended}")
    if record.cancel is not None:
        raise CancelRefused(
            f"batch {record.id} is already being cancelled (by {record.cancel.by} "
            f"at {record.cancel.at:%H:%M:%S} UTC)"
        )
    if record.status is BatchStatus.CANCELING:
        raise CancelRefused(f"batch {record.id} is already being cancelled")
    if record.provider_batch_id is None:
        raise CancelRefused(
            f"batch {record.id} has not reached the provider yet; try again in a moment"
        )


def _check_entry(store: Store, record: BatchRecord) -> None:
    """Refuse when the batch's entry is gone or not Anthropic's: nobody could ask the
    provider. Reads the configuration only (the SDK loads in the background)."""
    try:
        entry = load_document(store).entry(record.entry_key)
        provider = ProviderCapabilities.detect(entry.provider or "").provider
    except LLMOptError as exc:  # no such entry, an unreadable document
        problem = str(exc)
    else:
        if provider == "anthropic":
            return
        problem = f"{record.entry_key} is not an Anthropic entry"
    raise CancelRefused(
        f"batch {record.id} cannot be cancelled: its entry {record.entry_key} cannot "
        f"reach the provider ({problem})"
    )


def ask_provider(store: Store, record: BatchRecord) -> None:
    """Ask the provider to cancel ``record``'s batch through its entry's own client.

    A refusal is written to the record's ``cancel.problem`` (the batch client does so),
    where the page shows it and every poller asks again; nothing is raised.
    """
    cancel = record.cancel
    assert cancel is not None
    try:
        # The wrapper brings LangChain and the Anthropic SDK (seconds to import): only a
        # cancel needs them, so the console and its commands start without.
        from llmopt.wrapper import batch_client_for_entry

        client = batch_client_for_entry(store, record.entry_key)
    except Exception as exc:
        logger.exception("cancel %s: no client for entry %s", record.id, record.entry_key)
        _note_problem(store, record, f"no client for entry {record.entry_key}: {exc}")
        return
    try:
        client.cancel_sync(
            record.id,
            by=cancel.by,
            reason=cancel.reason,
            send_rest_standard=cancel.send_rest_standard,
        )
    except ProviderError as exc:
        logger.warning("cancel %s by %s: the provider refused: %s", record.id, cancel.by, exc)
    except Exception as exc:
        logger.exception("cancel %s by %s failed", record.id, cancel.by)
        _note_problem(store, record, str(exc))
    finally:
        client.close()


def _note_problem(store: Store, record: BatchRecord, problem: str) -> None:
    assert record.cancel is not None
    try:
        store.update_batch(
            record.id,
            {"cancel": record.cancel.model_copy(update={"problem": problem})},
            expect={"cancel": record.cancel},
        )
    except LLMOptError:
        logger.exception("cancel %s: could not record the problem", record.id)


class ProviderCalls:
    """The provider calls of cancels this process recorded, each on a daemon thread.

    ``ask`` does the work (a seam for tests); :meth:`wait` is for tests and shutdown.
    """

    def __init__(self, ask: Callable[[Store, BatchRecord], None] = ask_provider) -> None:
        self.ask = ask
        self._running = 0
        self._idle = threading.Condition()

    def start(self, store: Store, record: BatchRecord) -> None:
        with self._idle:
            self._running += 1
        thread = threading.Thread(
            target=self._run, args=(store, record), name=f"cancel-{record.id}", daemon=True
        )
        thread.start()

    def _run(self, store: Store, record: BatchRecord) -> None:
        try:
            self.ask(store, record)
        except Exception:
            logger.exception("cancel %s: asking the provider failed", record.id)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def wait(self, timeout: float) -> bool:
        """Wait until no provider call is running; False if some still are at ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout=timeout)


PROVIDER_CALLS = ProviderCalls()


_warmed = threading.Event()


def warm_up() -> None:
    """Load the SDK and LangChain in the background, once per process, so that a cancel
    soon after (an operator looking at a batch they may cancel) reaches the provider in
    a fraction of a second rather than after the imports' seconds."""
    if _warmed.is_set():
        return
    _warmed.set()

    def load() -> None:
        try:
            import llmopt.wrapper  # noqa: F401
        except Exception:
            logger.exception("loading the batch client in the background failed")

    threading.Thread(target=load, name="cancel-warm-up", daemon=True).start()
