"""Running Message Batches items: each one goes through the Messages code (validation,
prompt cache, reply), and comes out as its line of the results file.

Items run in waves of ``parallelism``: every item of a wave looks the cache up before
any of them writes, as concurrent requests do, so identical prompts in one wave all
write and later waves read. Invalid params and injected faults give ``errored`` lines;
an item whose fault is ``expired`` stays unfinished (an empty line) until its batch ends.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from llmopt.providers import ProviderCapabilities, TokenUsage
from llmopt.sandbox import _errors as msg
from llmopt.sandbox._billing import ModelBilling, batch_billing
from llmopt.sandbox._cache import CachePlan, CacheUsage, PromptCache
from llmopt.sandbox._errors import ApiError, ErrorType, invalid, new_id
from llmopt.sandbox._faults import BatchItemFault
from llmopt.sandbox._messages import message_body
from llmopt.sandbox._prompt import Prompt, build_prompt
from llmopt.sandbox._replies import Reply, compose_reply
from llmopt.sandbox._validation import MessageRequest, parse_message_request

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

STALLED = b""
"""The line of an item that has not finished (its fault keeps it from completing)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One item of a wave: its id, params (compact JSON, see :func:`params_json`),
    injected fault and whether its cache lookup may hit (``False``: a best-effort miss)."""

    custom_id: str
    params: bytes
    fault: BatchItemFault | None
    lookup: bool


@dataclass
class Tally:
    """What a run of waves bills: tokens and successes per (model, day), errors per model."""

    tokens: defaultdict[tuple[str, date], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0] * 6)
    )
    errors: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    def success(self, model: str, day: date, usage: CacheUsage, output_tokens: int) -> None:
        counts = self.tokens[(model, day)]
        counts[0] += usage.input_tokens
        counts[1] += usage.write_5m_tokens
        counts[2] += usage.write_1h_tokens
        counts[3] += usage.read_tokens
        counts[4] += output_tokens
        counts[5] += 1

    def error(self, model: str) -> None:
        self.errors[model] += 1

    @property
    def succeeded(self) -> int:
        return sum(counts[5] for counts in self.tokens.values())

    @property
    def errored(self) -> int:
        return sum(self.errors.values())

    def billing(self) -> dict[str, ModelBilling]:
        """The counters to add to the ledger, per model."""
        billed: dict[str, ModelBilling] = {}
        for (model, day), counts in self.tokens.items():
            usage = TokenUsage(
                input_tokens=counts[0],
                cache_write_5m_tokens=counts[1],
                cache_write_1h_tokens=counts[2],
                cache_read_tokens=counts[3],
                output_tokens=counts[4],
                batch=True,
            )
            part = batch_billing(model, usage, succeeded=counts[5], errored=0, day=day)
            billed[model] = billed.get(model, ModelBilling()) + part
        for model, count in self.errors.items():
            part = ModelBilling(requests_errored=count, batch_requests_errored=count)
            billed[model] = billed.get(model, ModelBilling()) + part
        return billed


@dataclass(frozen=True, slots=True)
class Prepared:
    """What an item's params give before the cache is asked: the request, its prompt,
    the model's minimum cacheable length and the reply (all the same for equal params)."""

    request: MessageRequest
    prompt: Prompt
    min_tokens: int
    reply: Reply


class Preparations:
    """Params already prepared during one run, so equal params in a batch (a common
    shape: one prompt over many inputs, or retried items) are validated, tokenized and
    answered once. Bounded: it starts over past ``limit`` entries."""

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._found: dict[bytes, Prepared | ApiError] = {}

    def prepare(self, params: bytes) -> Prepared:
        """The preparation of ``params`` (compact JSON); raises the 400 :class:`ApiError`
        of invalid ones."""
        found = self._found.get(params)
        if found is None:
            try:
                found = _prepare(json.loads(params))
            except ApiError as error:
                found = error
            if len(self._found) >= self._limit:
                self._found.clear()
            self._found[params] = found
        if isinstance(found, ApiError):
            raise found
        return found


def run_wave(
    jobs: Sequence[Job],
    *,
    cache: PromptCache,
    owner: str,
    day: date,
    tally: Tally,
    preparations: Preparations,
) -> list[bytes]:
    """The results lines of ``jobs`` in order (:data:`STALLED` for unfinished ones),
    billed into ``tally`` at ``day``'s prices and cached for ``owner``."""
    lines = [STALLED] * len(jobs)
    planned: list[tuple[int, Prepared, CachePlan]] = []
    for index, job in enumerate(jobs):
        if job.fault is not None and job.fault.outcome == "expired":
            continue
        try:
            prepared = preparations.prepare(job.params)
        except ApiError as error:
            lines[index] = errored_line(job.custom_id, "invalid_request_error", error.message)
            tally.error(_model_named(json.loads(job.params)))
            continue
        model = prepared.request.model
        if job.fault is not None:
            fault = job.fault
            outcome: ErrorType = "api_error" if fault.outcome == "expired" else fault.outcome
            lines[index] = errored_line(job.custom_id, outcome, fault.default_message())
            tally.error(model)
            continue
        plan = cache.plan(
            api_key=owner,
            model=model,
            prompt=prepared.prompt,
            min_tokens=prepared.min_tokens,
            lookup=job.lookup,
        )
        planned.append((index, prepared, plan))
    for index, prepared, plan in planned:
        cache.commit(plan)
        model, reply = prepared.request.model, prepared.reply
        message = message_body(model, reply, plan.usage, service_tier="batch")
        lines[index] = _line(jobs[index].custom_id, {"type": "succeeded", "message": message})
        tally.success(model, day, plan.usage, reply.output_tokens)
    return lines


def _prepare(params: Any) -> Prepared:
    request = parse_batch_params(params)
    minimum = ProviderCapabilities.detect("anthropic", request.model).min_cacheable_tokens
    return Prepared(request, build_prompt(request), minimum or 0, compose_reply(request))


def parse_batch_params(params: Any) -> MessageRequest:
    """Validate one item's params as a non-streaming Messages request.

    Raises a 400 :class:`ApiError`; an unknown model, a 404 on ``/v1/messages``, is an
    ``invalid_request_error`` here, as the request must be fixed before it is resent.
    """
    try:
        request = parse_message_request(params)
    except ApiError as error:
        if error.error_type == "not_found_error":
            raise ApiError("invalid_request_error", error.message) from None
        raise
    if request.stream:
        raise invalid(msg.BATCH_STREAMING)
    return request


def keeps_cache_hit(seed: int, custom_id: str, ratio: float) -> bool:
    """Whether an item may read the cache, for a batch keeping ``ratio`` of its hits.

    Drawn from ``seed`` and the item's ``custom_id``: the same item always draws the same.
    """
    if ratio >= 1:
        return True
    digest = hashlib.sha256(f"{seed}:{custom_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < ratio


def errored_line(custom_id: str, error_type: ErrorType, message: str) -> bytes:
    """The results line of an item that failed with ``error_type``."""
    error = ApiError(error_type, message)
    return _line(custom_id, {"type": "errored", "error": error.body(new_id("req_"))})


def ended_line(custom_id: str, result: str) -> bytes:
    """The results line of a ``canceled`` or ``expired`` item."""
    return b'{"custom_id":"%s","result":{"type":"%s"}}\n' % (custom_id.encode(), result.encode())


def params_json(params: Any) -> bytes:
    """Params as the store keeps them: compact JSON bytes, which the garbage collector
    need not walk (100,000 dicts would slow every collection) and which equal params
    share, so they also key :class:`Preparations`."""
    return _COMPACT.encode(params).encode()


def last_user_text(params: Any) -> str:
    """The last user text of raw, unvalidated params (empty when there is none), for
    matching fault markers before the params are validated."""
    messages = params.get("messages") if isinstance(params, Mapping) else None
    if not isinstance(messages, list):
        return ""
    for turn in reversed(messages):
        if isinstance(turn, Mapping) and turn.get("role") == "user":
            content = turn.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(
                    str(b.get("text", ""))
                    for b in content
                    if isinstance(b, Mapping) and b.get("type") == "text"
                )
            return ""
    return ""


def _line(custom_id: str, result: Mapping[str, Any]) -> bytes:
    data = {"custom_id": custom_id, "result": result}
    return _COMPACT.encode(data).encode() + b"\n"


def _model_named(params: Any) -> str:
    model = params.get("model") if isinstance(params, Mapping) else None
    return model if isinstance(model, str) else ""
