"""``/api/batches``: the provider batches in the ledger; read them, and cancel one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from llmopt.store import BatchRecord, BatchStatus

from ..batch_cancel import CancelRefused, cancel_batch
from ..roles import OPERATE, VIEW
from ..store import get_store
from .auth import RoleAuth, actor
from .errors import Error, ValidationErrors

router = Router(tags=["batches"], auth=RoleAuth(VIEW))


class BatchFilterIn(Schema):
    """Only batches in one status and/or of one entry; a page of them."""

    status: BatchStatus | None = None
    entry_key: str | None = Field(None, min_length=1)
    limit: int = Field(100, ge=1, le=500)
    # SQLite integers are 64-bit; nobody pages past a billion batches.
    offset: int = Field(0, ge=0, le=1_000_000_000)


class BatchOut(Schema):
    """One batch: ours (``id``) and the provider's id, where it is, and what it counted."""

    id: str
    provider: str
    model: str
    entry_key: str
    provider_batch_id: str | None
    status: BatchStatus
    request_counts: dict[str, int]
    created_at: datetime
    submitted_at: datetime | None
    ended_at: datetime | None
    expires_at: datetime | None
    cost_estimate_usd: float | None
    error: str | None


class BatchPageOut(Schema):
    """A page of batches, newest first; ``next_offset`` is ``None`` on the last page."""

    batches: list[BatchOut]
    total: int
    next_offset: int | None


class CancelIn(Schema):
    """Why (for the audit log); optional."""

    reason: str = Field("", max_length=500)


def batch_out(record: BatchRecord) -> BatchOut:
    # The per-request fingerprints (``requests``) stay out: large and of no use to a person.
    return BatchOut(**record.model_dump(exclude={"requests", "last_polled_at"}))


ERRORS: dict[int, Any] = {401: Error, 403: Error, 422: ValidationErrors, 503: Error}


@router.get("", response={200: BatchPageOut, **ERRORS}, summary="The batches, newest first")
def list_batches(request: HttpRequest, filters: Query[BatchFilterIn]) -> BatchPageOut:
    store = get_store()
    selection: dict[str, Any] = {
        "statuses": [filters.status] if filters.status is not None else None,
        "entry_key": filters.entry_key,
    }
    records = store.list_batches(
        **selection, limit=filters.limit, offset=filters.offset, with_requests=False
    )
    total = store.count_batches(**selection)
    following = filters.offset + len(records)
    return BatchPageOut(
        batches=[batch_out(r) for r in records],
        total=total,
        next_offset=following if following < total and records else None,
    )


@router.get("/{batch_id}", response={200: BatchOut, 404: Error, **ERRORS}, summary="One batch")
def read_batch(request: HttpRequest, batch_id: str) -> BatchOut:
    return batch_out(get_store().get_batch(batch_id))


@router.post(
    "/{batch_id}/cancel",
    auth=RoleAuth(OPERATE),
    response={200: BatchOut, 404: Error, 409: Error, 502: Error, **ERRORS},
    summary="Ask the provider to cancel a batch (audited as batch.cancel)",
    description=(
        "The batch moves to `canceling`; requests not yet started end `canceled`. "
        "409 when it has already ended, is already canceling or has not reached the "
        "provider yet; 502 when the provider refuses. Nothing changes on an error."
    ),
)
def cancel(request: HttpRequest, batch_id: str, payload: CancelIn | None = None) -> BatchOut:
    reason = payload.reason.strip() if payload is not None else ""
    try:
        record = cancel_batch(get_store(), batch_id, actor=actor(request), reason=reason)
    except CancelRefused as exc:
        raise HttpError(exc.status, str(exc)) from exc  # ninja answers {"detail": ...}
    return batch_out(record)
