"""``/api/routing``: the routing settings, each entry's circuit and last hour, the recent
decisions; saving the settings, and forcing a circuit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Router, Schema
from pydantic import WithJsonSchema

from llmopt.config import load_document
from llmopt.errors import ConfigError, FieldProblem
from llmopt.killswitch import read_kill_switch
from llmopt.routing import update_routing
from llmopt.store import CircuitRecord, RoutingDecisionRecord, Store

from ..roles import EDIT, VIEW
from ..routing.overview import (
    DECISIONS_SHOWN,
    EntryCircuit,
    EntryStats,
    entry_circuits,
    entry_stats,
    routing_settings,
    stored_routing,
)
from ..routing.views import force_circuit
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth, actor
from .errors import READ_ERRORS, Conflict, Error, ValidationErrors
from .strict import InputSchema, Reason

router = Router(tags=["routing"], auth=RoleAuth(VIEW))


class CircuitOut(Schema):
    """One entry's circuit: ``closed``, ``open`` or ``half_open``; ``forced`` by an operator."""

    entryKey: str
    state: str
    forced: Literal["open", "closed"] | None
    failures: int
    retryAt: datetime | None
    reason: str
    updatedAt: datetime | None


class EntryStatsOut(Schema):
    """One entry's calls over the last hour; latencies are bucket upper bounds (ms)."""

    entryKey: str
    calls: int
    errors: int
    errorRate: float | None
    p50Ms: float | None
    p95Ms: float | None
    costUsd: float
    costPerRequestUsd: float | None


class DecisionOut(Schema):
    """One routing decision and why it was taken."""

    id: str
    at: datetime
    entryKey: str
    reason: str
    task: str | None
    requestTokens: int
    fallbackFrom: str | None
    candidates: list[dict[str, Any]]


class RoutingOut(Schema):
    """The routing settings at one revision, with what routing is doing.

    ``routing`` is the object as stored; ``settings`` the settings in force (defaults
    filled in; the defaults when the stored object is invalid, which ``problems`` says).
    """

    revision: str | None
    killSwitchEngaged: bool
    routing: dict[str, Any]
    settings: dict[str, Any]
    problems: list[str]
    circuits: list[CircuitOut]
    stats: list[EntryStatsOut]
    decisions: list[DecisionOut]


class RoutingIn(InputSchema):
    """The whole ``routing`` object to store, the revision it was read at, and why.

    Checked by the core (``RoutingSettings``, against the document's entries): every
    problem answers 422 beside its field, and nothing is written.
    """

    routing: dict[str, Any]
    revision: str
    reason: Reason = ""


# Checked in the operation, not by pydantic, so that a wrong state is one problem beside
# its field and never hides another (the security sweep sends every field at once).
ForcedState = Annotated[
    str | None,
    WithJsonSchema({"anyOf": [{"type": "string", "enum": ["open", "closed"]}, {"type": "null"}]}),
]


class ForceIn(InputSchema):
    """``open`` or ``closed`` forces the circuit for every process; ``null`` (or no
    ``state``) clears the force, so the breaker decides again."""

    state: ForcedState = None
    reason: Reason = ""


def _circuit_out(circuit: EntryCircuit) -> CircuitOut:
    return CircuitOut(
        entryKey=circuit.entry_key,
        state=circuit.state,
        forced=circuit.forced,  # type: ignore[arg-type]
        failures=circuit.failures,
        retryAt=circuit.retry_at,
        reason=circuit.reason,
        updatedAt=circuit.updated_at,
    )


def _stats_out(row: EntryStats) -> EntryStatsOut:
    return EntryStatsOut(
        entryKey=row.entry_key,
        calls=row.calls,
        errors=row.errors,
        errorRate=row.error_rate,
        p50Ms=row.p50_ms,
        p95Ms=row.p95_ms,
        costUsd=row.cost_usd,
        costPerRequestUsd=row.cost_per_request,
    )


def _decision_out(record: RoutingDecisionRecord) -> DecisionOut:
    return DecisionOut(
        id=record.id,
        at=record.at,
        entryKey=record.entry_key,
        reason=record.reason,
        task=record.task,
        requestTokens=record.request_tokens,
        fallbackFrom=record.fallback_from,
        candidates=record.candidates,
    )


def _routing_out(store: Store) -> RoutingOut:
    document = load_document(store)
    settings, problems = routing_settings(document)
    keys = [entry.key for entry in document.entries]
    return RoutingOut(
        revision=document.revision,
        killSwitchEngaged=read_kill_switch(store).engaged,
        routing=stored_routing(document),
        settings=settings.model_dump(by_alias=True, mode="json"),
        problems=problems,
        circuits=[_circuit_out(c) for c in entry_circuits(store, keys)],
        stats=[_stats_out(s) for s in entry_stats(store, timezone.now(), keys)],
        decisions=[_decision_out(d) for d in store.recent_routing_decisions(limit=DECISIONS_SHOWN)],
    )


@router.get("", response={200: RoutingOut, **READ_ERRORS}, summary="Routing and its state")
def get_routing(request: AuthedRequest) -> RoutingOut:
    return _routing_out(get_store())


@router.put(
    "",
    auth=RoleAuth(EDIT),
    response={200: RoutingOut, 409: Conflict, 422: ValidationErrors, **READ_ERRORS},
    summary="Save the routing settings",
)
def put_routing(request: AuthedRequest, payload: RoutingIn) -> RoutingOut:
    """Validated as a whole (422, nothing written), refused when stale (409), audited
    as ``routing.update``; the rest of the document is kept."""
    store = get_store()
    update_routing(
        store,
        payload.routing,
        expected_revision=payload.revision,
        actor=actor(request),
        reason=payload.reason,
    )
    return _routing_out(store)


@router.post(
    "/circuits/{key}",
    auth=RoleAuth(EDIT),
    response={200: CircuitOut, 404: Error, 409: Conflict, 422: ValidationErrors, **READ_ERRORS},
    summary="Force a circuit open or closed, or clear the force",
)
def force(request: AuthedRequest, key: str, payload: ForceIn) -> CircuitOut:
    """Audited (``circuit.force`` / ``circuit.release``) and listed as a
    ``circuit_forced`` incident; 404 for a ``key`` that is no entry."""
    if payload.state not in ("open", "closed", None):
        message = f"state must be 'open', 'closed' or null, not {payload.state[:40]!r}"
        raise ConfigError([FieldProblem("state", message)])
    record: CircuitRecord = force_circuit(
        get_store(), key, payload.state, actor=actor(request), reason=payload.reason
    )
    return _circuit_out(
        EntryCircuit(
            entry_key=record.entry_key,
            state=record.state.value,
            forced=record.forced,
            failures=record.failures,
            retry_at=record.retry_at,
            reason=record.reason,
            updated_at=record.updated_at,
        )
    )
