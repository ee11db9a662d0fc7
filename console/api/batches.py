"""``/api/batches``: the provider batches in the ledger (read-only for now)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from llmopt.store import BatchRecord, BatchStatus

from ..roles import VIEW
from ..store import get_store
from .auth import RoleAuth
from .errors import Error, ValidationErrors

router = Router(tags=["batches"], auth=RoleAuth(VIEW))


class BatchFilterIn(Schema):
    """Only batches in one status, and how many to show."""

    status: BatchStatus | None = None
    limit: int = Field(100, ge=1, le=500)


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


def batch_out(record: BatchRecord) -> BatchOut:
    # The per-request fingerprints (``requests``) stay out: large and of no use to a person.
    return BatchOut(**record.model_dump(exclude={"requests", "last_polled_at"}))


ERRORS: dict[int, Any] = {401: Error, 403: Error, 422: ValidationErrors, 503: Error}


@router.get("", response={200: list[BatchOut], **ERRORS}, summary="The batches, newest first")
def list_batches(request: HttpRequest, filters: Query[BatchFilterIn]) -> list[BatchOut]:
    statuses = [filters.status] if filters.status is not None else None
    records = get_store().list_batches(statuses=statuses, limit=filters.limit)
    return [batch_out(r) for r in records]
