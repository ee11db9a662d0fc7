"""``/api/audit``: every recorded change, newest first, filterable and paged by cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema
from ninja.errors import ValidationError
from pydantic import Field

from llmopt import redact

from ..roles import VIEW
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth
from .errors import Error, ValidationErrors

router = Router(tags=["audit"], auth=RoleAuth(VIEW))


class AuditFilterIn(Schema):
    """Filters (all optional, all must match) and the cursor of the page to show."""

    limit: int = Field(50, ge=1, le=500)
    action: str | None = Field(None, description="the action, exactly (`config.update`)")
    actor: str | None = Field(None, description="any part of the actor's name, any case")
    target: str | None = Field(None, description="any part of the target, any case")
    before_id: str | None = None


class AuditRecordOut(Schema):
    """Who did what to which target, when and why, with the values before and after."""

    id: str
    at: datetime
    actor: str
    action: str
    target: str
    reason: str
    before: Any
    after: Any


class AuditPageOut(Schema):
    """One page; pass ``next_before_id`` as ``before_id`` for the next (``null``: no more)."""

    records: list[AuditRecordOut]
    next_before_id: str | None


@router.get(
    "",
    response={200: AuditPageOut, 401: Error, 403: Error, 422: ValidationErrors, 503: Error},
    summary="The audit log",
)
def list_audit(request: AuthedRequest, filters: Query[AuditFilterIn]) -> AuditPageOut:
    try:
        records = get_store().list_audit(
            limit=filters.limit + 1,
            before_id=filters.before_id,
            action=filters.action,
            actor=filters.actor,
            target=filters.target,
            match="contains",
        )
    except ValueError as exc:  # a before_id the store does not know
        raise ValidationError(
            [{"loc": ("query", "before_id"), "msg": str(exc), "type": "value_error"}]
        ) from exc
    page = records[: filters.limit]
    more = len(records) > filters.limit
    return AuditPageOut(
        records=[
            AuditRecordOut(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                target=r.target,
                reason=r.reason,
                # Writers mask secrets already; masking again costs nothing and is safe.
                before=redact(r.before),
                after=redact(r.after),
            )
            for r in page
        ],
        next_before_id=page[-1].id if more and page else None,
    )
