"""What callers hand in and get back, and how requests are prepared and split into batches."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmopt.batching._fingerprint import canonical_json
from llmopt.errors import ProviderError

CUSTOM_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

Source = Literal["batch", "reused", "standard"]


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One Messages request to answer through a Message Batch.

    ``params`` is a non-streaming Messages request body (``model``, ``max_tokens``,
    ``messages``, ...); ``model`` may be left out when the client has a default.
    ``custom_id`` must match ``^[a-zA-Z0-9_-]{1,64}$`` and be unique among the
    requests of one call; leave it ``None`` to have one assigned.
    """

    params: dict[str, Any]
    custom_id: str | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What became of one request; ``run`` returns them in the order requests were given.

    Exactly one of ``message`` (the Anthropic Message as a JSON dict, with ``usage``)
    and ``error`` is set. ``source`` says where the answer came from: ``batch`` (the
    Message Batch, also for an error it reported), ``reused`` (a stored answer to an
    identical earlier request, not paid again) or ``standard`` (the Messages API after
    the batch could not answer). ``attempts`` counts standard-API calls made for it.
    ``error.retryable`` is false when resending the same request cannot help
    (``invalid_request_error``).
    """

    custom_id: str
    message: dict[str, Any] | None
    error: ProviderError | None
    source: Source
    attempts: int


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request ready to send: its final body, id, fingerprint and size in a create body."""

    index: int
    custom_id: str
    params: dict[str, Any]
    fingerprint: str
    size: int

    @property
    def model(self) -> str:
        return str(self.params["model"])

    def as_batch_item(self) -> dict[str, Any]:
        return {"custom_id": self.custom_id, "params": self.params}


# {"custom_id":"<id>","params":<params>} around the id and the params' JSON.
_ITEM_OVERHEAD = len('{"custom_id":"","params":}')
# {"requests":[...]} around the items, which are separated by commas.
_BODY_OVERHEAD = len('{"requests":[]}')


def batch_body_size(items: Sequence[PreparedRequest]) -> int:
    """Bytes of the create body for ``items`` as the SDK sends it (compact UTF-8 JSON)."""
    return _BODY_OVERHEAD + sum(item.size for item in items) + max(0, len(items) - 1)


def prepare_requests(
    requests: Sequence[BatchRequest], *, default_model: str | None
) -> list[PreparedRequest]:
    """Check the requests, fill in the default model and assign missing custom ids.

    Raises ``ValueError`` for a body that is not a JSON object, asks to stream, names no
    model (and the client has no default), or for a custom id that is malformed or
    repeated; ``TypeError`` for a body JSON cannot hold.
    """
    given = [r.custom_id for r in requests if r.custom_id is not None]
    seen: set[str] = set()
    for given_id in given:
        if not isinstance(given_id, str) or not CUSTOM_ID_PATTERN.match(given_id):
            raise ValueError(f"custom_id {given_id!r} must be 1 to 64 letters, digits, '_' or '-'")
        if given_id in seen:
            raise ValueError(f"custom_id {given_id!r} is used by more than one request")
        seen.add(given_id)
    # A random token per call keeps assigned ids apart from other calls' (the ledger
    # and the provider's results are matched on them).
    token = secrets.token_hex(8)
    prepared: list[PreparedRequest] = []
    for index, request in enumerate(requests):
        params = _checked_params(request.params, default_model, index)
        custom_id = request.custom_id
        if custom_id is None:
            custom_id = f"r{token}-{index}"
            while custom_id in seen:
                custom_id = f"r{secrets.token_hex(8)}-{index}"
            seen.add(custom_id)
        body = canonical_json(params)
        prepared.append(
            PreparedRequest(
                index=index,
                custom_id=custom_id,
                params=params,
                fingerprint=hashlib.sha256(body).hexdigest(),
                size=_ITEM_OVERHEAD + len(custom_id) + len(body),
            )
        )
    return prepared


def _checked_params(
    params: Mapping[str, Any], default_model: str | None, index: int
) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise ValueError(f"request {index}: params must be a Messages request body (a dict)")
    body = dict(params)
    if body.get("stream"):
        raise ValueError(f"request {index}: batch requests cannot stream; drop 'stream'")
    body.pop("stream", None)
    if not body.get("model"):
        if default_model is None:
            raise ValueError(f"request {index}: params name no model and the client has none")
        body["model"] = default_model
    return body


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Requests split into batches the provider accepts, and those too big for any batch."""

    batches: list[list[PreparedRequest]]
    oversized: list[PreparedRequest]


def plan_batches(
    requests: Sequence[PreparedRequest], *, max_requests: int, max_bytes: int | None
) -> BatchPlan:
    """Split ``requests`` into batches of one model each, within both limits.

    Input order is kept within each model. A request whose body alone exceeds
    ``max_bytes`` fits no batch and is returned in ``oversized``.
    """
    if max_requests < 1:
        raise ValueError("max_requests must be at least 1")
    by_model: dict[str, list[PreparedRequest]] = {}
    oversized: list[PreparedRequest] = []
    for request in requests:
        if max_bytes is not None and batch_body_size([request]) > max_bytes:
            oversized.append(request)
        else:
            by_model.setdefault(request.model, []).append(request)
    batches: list[list[PreparedRequest]] = []
    for group in by_model.values():
        current: list[PreparedRequest] = []
        current_bytes = _BODY_OVERHEAD
        for request in group:
            added = request.size + (1 if current else 0)
            too_many = len(current) >= max_requests
            too_big = max_bytes is not None and current_bytes + added > max_bytes
            if current and (too_many or too_big):
                batches.append(current)
                current, current_bytes = [], _BODY_OVERHEAD
                added = request.size
            current.append(request)
            current_bytes += added
        if current:
            batches.append(current)
    return BatchPlan(batches, oversized)
