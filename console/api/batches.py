"""``/api/batches``: the provider batches in the ledger; read them, and cancel one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from llmopt.store import BatchRecord, BatchStatus

from ..batches.cancel import CancelRefused, request_cancel
from ..roles import OPERATE, VIEW
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth, actor
from .errors import Error, ValidationErrors
from .strict import InputSchema, Reason

router = Router(tags=["batches"], auth=RoleAuth(VIEW))


class BatchFilterIn(Schema):
    """Only batches in one status and/or of one entry; a page of them."""

    status: BatchStatus | None = None
    entry_key: str | None = Field(None, min_length=1)
    limit: int = Field(100, ge=1, le=500)
    # SQLite integers are 64-bit; nobody pages past a billion batches.
    offset: int = Field(0, ge=0, le=1_000_000_000)


class BatchCancelOut(Schema):
    """An operator's cancel: who, when, why, and what becomes of the requests it stops.

    ``send_rest_standard`` false: they are not answered (their callers get an error,
    nothing more is billed); true: they are sent at once at the standard price.
    ``problem``: why the provider has not taken the cancel yet (it is asked again each
    time the batch is polled); ``null`` once it has.
    """

    by: str
    at: datetime
    reason: str
    send_rest_standard: bool
    problem: str | None


class BatchOut(Schema):
    """One batch: ours (``id``) and the provider's id, where it is, and what it counted.

    ``cancel`` is an operator's cancel, ``null`` when nobody cancelled it.
    """

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
    cancel: BatchCancelOut | None


class BatchPageOut(Schema):
    """A page of batches, newest first; ``next_offset`` is ``None`` on the last page."""

    batches: list[BatchOut]
    total: int
    next_offset: int | None


class CancelIn(InputSchema):
    """Why (for the audit log), and what becomes of the requests the cancel stops.

    ``send_rest_standard`` false (the default): they are not answered; their callers
    get an error (``BatchCanceled``) and nothing more is billed for them. True: they are
    sent at once at the standard price, about twice the batch price, for callers that
    need the answers.
    """

    reason: Reason = ""
    send_rest_standard: bool = False


def batch_out(record: BatchRecord) -> BatchOut:
    # The per-request fingerprints (``requests``) stay out: large and of no use to a person.
    return BatchOut(**record.model_dump(exclude={"requests", "last_polled_at"}))


ERRORS: dict[int, Any] = {401: Error, 403: Error, 422: ValidationErrors, 503: Error}


@router.get("", response={200: BatchPageOut, **ERRORS}, summary="The batches, newest first")
def list_batches(request: AuthedRequest, filters: Query[BatchFilterIn]) -> BatchPageOut:
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
def read_batch(request: AuthedRequest, batch_id: str) -> BatchOut:
    return batch_out(get_store().get_batch(batch_id))


@router.post(
    "/{batch_id}/cancel",
    auth=RoleAuth(OPERATE),
    response={202: BatchOut, 404: Error, 409: Error, **ERRORS},
    summary="Cancel a batch (audited as batch.cancel)",
    description=(
        "202: the cancel is recorded (`cancel` in the answer) and the provider is being "
        "asked; the batch then moves to `canceling` and ends `ended`, requests already "
        "running may still succeed, the rest end `canceled`. Follow it with `GET "
        "/api/batches/{id}` (`cancel.problem` says when the provider has not taken it "
        "yet; it is asked again on every poll). Without `send_rest_standard` the "
        "canceled requests are not answered: their callers get an error and nothing "
        "more is billed for them. With `send_rest_standard: true` they are sent at once "
        "at the standard price (about 2x the batch price) by the process waiting for "
        "them. 409 when the batch has already ended, is already being cancelled or has "
        "not reached the provider yet, or its entry cannot reach the provider; nothing "
        "changes then."
    ),
)
def cancel(
    request: AuthedRequest, batch_id: str, payload: CancelIn | None = None
) -> Status[BatchOut]:
    reason = payload.reason.strip() if payload is not None else ""
    send_rest_standard = payload.send_rest_standard if payload is not None else False
    try:
        record = request_cancel(
            get_store(),
            batch_id,
            actor=actor(request),
            reason=reason,
            send_rest_standard=send_rest_standard,
        )
    except CancelRefused as exc:
        raise HttpError(exc.status, str(exc)) from exc  # ninja answers {"detail": ...}
    return Status(202, batch_out(record))
