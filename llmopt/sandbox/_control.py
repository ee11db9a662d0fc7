"""The sandbox's own control endpoints, under ``/_sandbox/`` (no API key needed).

| endpoint                     | does                                                  |
|------------------------------|-------------------------------------------------------|
| ``GET /_sandbox/health``     | ``{"status": "ok"}``                                  |
| ``GET /_sandbox/billing``    | the billing counters (``Billing.to_json()``)          |
| ``POST /_sandbox/reset``     | clear cache, counters, fault rules and skills         |
| ``GET /_sandbox/faults``     | the fault plan in force, with remaining counts        |
| ``POST /_sandbox/faults``    | put a fault plan in force (body: ``FaultPlan`` JSON); |
|                              | ``?append=true`` adds its rules to the plan instead   |
| ``DELETE /_sandbox/faults``  | remove every fault rule                               |
| ``GET /_sandbox/batches``    | calls per batch endpoint, and every batch's status    |
|                              | and counts (brought up to the clock)                  |
| ``GET /_sandbox/skills``     | the scripted skill table in force                     |
| ``POST /_sandbox/skills``    | script skill: ``{"claude-haiku-*": {"arithmetic":     |
|                              | 0.6, "*": 0.8}}`` (see ``_skills``), replacing it     |

A fault plan's ``batch_items`` (:class:`BatchItemFault` JSON) make batch requests come
back ``errored`` or ``expired``; ``?append=true`` appends them as it does ``rules``.

Per-model behaviour (latency distributions, outages, rate limits, slow streams) goes
through the same endpoint, as rules with ``models`` or by model::

    POST /_sandbox/faults
    {"seed": 7, "models": {
        "gpt-5.4-mini": {"latency": {"p50_ms": 400, "p95_ms": 1500}},
        "claude-sonnet-4-6": [{"outage": {"start": 60, "end": 120}},
                              {"rate_limit": {"requests": 50, "per_seconds": 60}}]}}

A bad plan gets 400 ``invalid_request_error`` naming each bad field
(``rules.0.outage: Value error, outage.end must be after outage.start``).
"""

from __future__ import annotations

from pydantic import ValidationError

from llmopt.sandbox._errors import ApiError
from llmopt.sandbox._faults import FaultPlan
from llmopt.sandbox._routing import Request, Response
from llmopt.sandbox._state import SandboxState


def health(request: Request, state: SandboxState) -> Response:
    return Response.json(200, {"status": "ok"})


def billing(request: Request, state: SandboxState) -> Response:
    state.batches.advance_all()
    return Response.json(200, state.billing.snapshot().to_json())


def batches(request: Request, state: SandboxState) -> Response:
    return Response.json(
        200, {"calls": state.batches.calls(), "batches": state.batches.summaries()}
    )


def reset(request: Request, state: SandboxState) -> Response:
    state.reset()
    return Response.json(200, {"status": "reset"})


def show_faults(request: Request, state: SandboxState) -> Response:
    return Response.json(200, state.faults.describe())


def set_faults(request: Request, state: SandboxState) -> Response:
    try:
        plan = FaultPlan.model_validate(request.json if request.body else {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise ApiError("invalid_request_error", problems) from None
    if request.query.get("append", ["false"])[-1].lower() == "true":
        for rule in plan.rules:
            state.faults.add(rule)
        for item in plan.batch_items:
            state.faults.add_batch_item(item)
    else:
        state.faults.replace(plan)
    return Response.json(200, state.faults.describe())


def show_skills(request: Request, state: SandboxState) -> Response:
    return Response.json(200, state.skills.table())


def set_skills(request: Request, state: SandboxState) -> Response:
    table = request.json if request.body else {}
    if not isinstance(table, dict):
        raise ApiError("invalid_request_error", "body: an object of model globs to tasks")
    try:
        state.skills.set(table)
    except ValueError as error:
        raise ApiError("invalid_request_error", str(error)) from None
    return Response.json(200, state.skills.table())


def clear_faults(request: Request, state: SandboxState) -> Response:
    state.faults.replace(FaultPlan())
    return Response.json(200, state.faults.describe())
