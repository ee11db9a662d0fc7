"""``/api/kill-switch``: read it, engage it (the emergency rollback) or release it (restore)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from llmopt.killswitch import (
    KillSwitchState,
    engage_kill_switch,
    read_kill_switch,
    release_kill_switch,
)

from ..roles import OPERATE, VIEW
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth, actor
from .errors import Conflict, Error, ValidationErrors
from .strict import InputSchema, Reason

router = Router(tags=["kill switch"], auth=RoleAuth(VIEW))


class KillSwitchOut(Schema):
    """``engaged`` means every optimization is off; ``problem`` says when that is inferred."""

    engaged: bool
    actor: str | None
    reason: str
    changedAt: datetime | None
    problem: str | None


class KillSwitchIn(InputSchema):
    """``engaged: true`` rolls every optimization back; ``false`` restores the entries' flags.

    ``engaged`` is a JSON boolean: ``"yes"``, ``1`` or ``"true"`` are refused (422), so a
    typo in an alerting rule cannot turn optimization off everywhere.
    """

    engaged: bool
    reason: Reason = ""


def state_out(state: KillSwitchState) -> KillSwitchOut:
    return KillSwitchOut(
        engaged=state.engaged,
        actor=state.actor,
        reason=state.reason,
        changedAt=state.changed_at,
        problem=state.problem,
    )


ERRORS: dict[int, Any] = {401: Error, 403: Error, 503: Error}


@router.get("", response={200: KillSwitchOut, **ERRORS}, summary="The kill switch's state")
def get_kill_switch(request: AuthedRequest) -> KillSwitchOut:
    return state_out(read_kill_switch(get_store()))


@router.post(
    "",
    auth=RoleAuth(OPERATE),
    response={200: KillSwitchOut, 409: Conflict, 422: ValidationErrors, **ERRORS},
    summary="Engage or release the kill switch",
)
def set_kill_switch(request: AuthedRequest, payload: KillSwitchIn) -> KillSwitchOut:
    """One audited write; setting the state it already has writes nothing."""
    change = engage_kill_switch if payload.engaged else release_kill_switch
    return state_out(change(get_store(), actor=actor(request), reason=payload.reason))
