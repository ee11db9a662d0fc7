"""The Message Batches endpoints, as PROVIDER_FACTS describes Anthropic's.

| endpoint                                   | does                                      |
|--------------------------------------------|-------------------------------------------|
| ``POST /v1/messages/batches``              | create: ``{"requests": [{"custom_id",     |
|                                            | "params"}]}``, 1 to 100,000, ≤ 256 MB     |
| ``GET /v1/messages/batches/{id}``          | retrieve (brings the batch up to the clock) |
| ``GET /v1/messages/batches``               | list, newest first: ``limit`` (1-1000,    |
|                                            | default 20), ``after_id`` / ``before_id`` |
| ``POST /v1/messages/batches/{id}/cancel``  | cancel; 400 once ended                    |
| ``DELETE /v1/messages/batches/{id}``       | delete an ended batch; 400 before         |
| ``GET /v1/messages/batches/{id}/results``  | the results file, JSON lines; 404 before  |
|                                            | the batch ends and after 29 days          |

Create checks the shape of the body (``custom_id`` pattern and uniqueness, ``params``
an object, the request count) and answers 400 for a bad one; each ``params`` is
validated later, when its request runs, and a bad one becomes an ``errored`` result.
Every endpoint needs an API key, adds ``latency_ms``, and obeys the fault rules whose
``paths`` name it (``/v1/messages/batches`` or ``/v1/messages/batches/{id}``...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmopt.sandbox import _errors as msg
from llmopt.sandbox._batch_record import BatchRecord
from llmopt.sandbox._cache import cache_owner
from llmopt.sandbox._errors import invalid
from llmopt.sandbox._messages import authenticate
from llmopt.sandbox._routing import Request, Response
from llmopt.sandbox._state import SandboxState

CUSTOM_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_CUSTOM_ID = re.compile(CUSTOM_ID_PATTERN)
_ITEM_KEYS = frozenset({"custom_id", "params"})
DEFAULT_PAGE = 20
MAX_PAGE = 1000


def create_batch(request: Request, state: SandboxState) -> Response:
    """``POST /v1/messages/batches``."""
    state.batches.count_call("create")
    api_key = authenticate(request, state)
    custom_ids, params = _requests(request.json, state.options.batches.max_requests)
    _obey_faults(request, state)
    record = state.batches.create(custom_ids, params, owner=cache_owner(api_key))
    with record.lock:
        return Response.json(200, record.to_json(_base_url(request, state)))


def retrieve_batch(request: Request, state: SandboxState) -> Response:
    """``GET /v1/messages/batches/{message_batch_id}``."""
    record = _named_batch(request, state, "retrieve")
    return Response.json(200, state.batches.show(record, _base_url(request, state)))


def list_batches(request: Request, state: SandboxState) -> Response:
    """``GET /v1/messages/batches``."""
    state.batches.count_call("list")
    authenticate(request, state)
    limit = _limit(request.query.get("limit"))
    after_id = _last(request.query.get("after_id"))
    before_id = _last(request.query.get("before_id"))
    if after_id is not None and before_id is not None:
        raise invalid(msg.BATCH_BOTH_CURSORS)
    _obey_faults(request, state)
    records, has_more = state.batches.page(limit=limit, after_id=after_id, before_id=before_id)
    base_url = _base_url(request, state)
    data = [state.batches.show(record, base_url) for record in records]
    page = {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
    return Response.json(200, page)


def cancel_batch(request: Request, state: SandboxState) -> Response:
    """``POST /v1/messages/batches/{message_batch_id}/cancel``."""
    record = _named_batch(request, state, "cancel")
    return Response.json(200, state.batches.cancel(record, _base_url(request, state)))


def delete_batch(request: Request, state: SandboxState) -> Response:
    """``DELETE /v1/messages/batches/{message_batch_id}``."""
    record = _named_batch(request, state, "delete")
    state.batches.delete(record)
    return Response.json(200, {"id": record.id, "type": "message_batch_deleted"})


def batch_results(request: Request, state: SandboxState) -> Response:
    """``GET /v1/messages/batches/{message_batch_id}/results``: JSON lines, streamed."""
    record = _named_batch(request, state, "results")
    chunks = state.batches.results(record)
    headers = {"content-type": "application/binary"}
    return Response(200, headers, stream=chunks)


def _named_batch(request: Request, state: SandboxState, call: str) -> BatchRecord:
    # What every endpoint on one batch does first: count the call, check the key, obey
    # the faults, then find the batch its path names (404 if there is none).
    state.batches.count_call(call)
    authenticate(request, state)
    _obey_faults(request, state)
    return state.batches.find(request.path_params["message_batch_id"])


def _obey_faults(request: Request, state: SandboxState) -> None:
    decision = state.faults.decide(request.path, "", method=request.method)
    state.pause(state.options.latency_ms / 1000 + decision.latency_seconds)
    if decision.error is not None:
        raise decision.error


def _base_url(request: Request, state: SandboxState) -> str:
    host = request.headers.get("host")
    return f"http://{host}" if host else state.base_url


def _requests(body: object, max_requests: int) -> tuple[list[str], list[Any]]:
    if not isinstance(body, Mapping):
        raise invalid(msg.NOT_AN_OBJECT, path="body")
    if "requests" not in body:
        raise invalid(msg.FIELD_REQUIRED, path="requests")
    items = body["requests"]
    if not isinstance(items, list):
        raise invalid(msg.NOT_A_LIST, path="requests")
    if not items:
        raise invalid(msg.TOO_FEW_ITEMS, path="requests", limit=1, found=0)
    if len(items) > max_requests:
        raise invalid(msg.TOO_MANY_ITEMS, path="requests", limit=max_requests, found=len(items))
    custom_ids: list[str] = []
    params: list[Any] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        path = f"requests.{index}"
        if not isinstance(item, Mapping):
            raise invalid(msg.NOT_AN_OBJECT, path=path)
        for key in ("custom_id", "params"):
            if key not in item:
                raise invalid(msg.FIELD_REQUIRED, path=f"{path}.{key}")
        extra = next((k for k in item if k not in _ITEM_KEYS), None)
        if extra is not None:
            raise invalid(msg.EXTRA_INPUT, path=f"{path}.{extra}")
        custom_id = item["custom_id"]
        if not isinstance(custom_id, str):
            raise invalid(msg.NOT_A_STRING, path=f"{path}.custom_id")
        if not _CUSTOM_ID.match(custom_id):
            raise invalid(msg.PATTERN_MISMATCH, path=f"{path}.custom_id", pattern=CUSTOM_ID_PATTERN)
        if custom_id in seen:
            raise invalid(msg.DUPLICATE_CUSTOM_ID, path=f"{path}.custom_id", custom_id=custom_id)
        seen.add(custom_id)
        if not isinstance(item["params"], Mapping):
            raise invalid(msg.NOT_AN_OBJECT, path=f"{path}.params")
        custom_ids.append(custom_id)
        params.append(item["params"])
    return custom_ids, params


def _last(values: list[str] | None) -> str | None:
    return values[-1] if values else None


def _limit(values: list[str] | None) -> int:
    text = _last(values)
    if text is None:
        return DEFAULT_PAGE
    try:
        limit = int(text)
    except ValueError:
        raise invalid(msg.NOT_AN_INTEGER, path="limit") from None
    if limit < 1:
        raise invalid(msg.TOO_SMALL, path="limit", limit=1)
    if limit > MAX_PAGE:
        raise invalid(msg.TOO_LARGE, path="limit", limit=MAX_PAGE)
    return limit
