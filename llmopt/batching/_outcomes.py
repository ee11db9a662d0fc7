"""What each request of a run gets: a stored answer, its batch's answer or error, a copy
of an identical request's outcome, or a place in the queue for the standard API."""

from __future__ import annotations

import copy
import logging

from llmopt.batching._errors import item_error
from llmopt.batching._ledger import Ledger
from llmopt.batching._polling import BatchEnd
from llmopt.batching._requests import BatchOutcome, PreparedRequest, Source
from llmopt.batching._results import ItemResult
from llmopt.errors import BatchCanceled, ProviderError
from llmopt.store import BatchCancel, BatchRecord

logger = logging.getLogger("llmopt.batching")


async def reuse(
    ledger: Ledger, prepared: list[PreparedRequest], outcomes: dict[int, BatchOutcome]
) -> list[PreparedRequest]:
    """Answer from the store what it holds (``source="reused"``); the rest, to send."""
    stored = await ledger.get_results([p.fingerprint for p in prepared])
    to_send: list[PreparedRequest] = []
    for request in prepared:
        found = stored.get(request.fingerprint)
        if found is None:
            to_send.append(request)
        else:
            outcomes[request.index] = BatchOutcome(
                request.custom_id, found.result, None, "reused", 0
            )
    reused = len(prepared) - len(to_send)
    if reused:
        logger.info("%d of %d requests answered from stored results", reused, len(prepared))
    return to_send


def first_of_each(
    requests: list[PreparedRequest],
) -> tuple[list[PreparedRequest], list[tuple[PreparedRequest, PreparedRequest]]]:
    """The first request of each fingerprint, and (copy, first) for the others."""
    first: dict[str, PreparedRequest] = {}
    copies: list[tuple[PreparedRequest, PreparedRequest]] = []
    for request in requests:
        original = first.setdefault(request.fingerprint, request)
        if original is not request:
            copies.append((request, original))
    if not copies:
        return requests, []
    return list(first.values()), copies


def copy_of(outcome: BatchOutcome, request: PreparedRequest) -> BatchOutcome:
    """``outcome`` for an identical ``request``: its answer was paid for once, by the first."""
    if outcome.message is None:
        return BatchOutcome(request.custom_id, None, outcome.error, outcome.source, 0)
    message = copy.deepcopy(outcome.message)  # each caller may change its own
    return BatchOutcome(request.custom_id, message, None, "reused", 0)


def as_answers_to(end: BatchEnd, record: BatchRecord, chunk: list[PreparedRequest]) -> BatchEnd:
    """Another record's end, with its items under the ids ``chunk`` uses for the same
    requests (the record holds them under the custom ids its own run gave them)."""
    if end.items is None:
        return end
    theirs = {fingerprint: custom_id for custom_id, fingerprint in record.requests.items()}
    items = {
        request.custom_id: end.items.get(theirs[request.fingerprint], ItemResult("expired"))
        for request in chunk
    }
    return BatchEnd(items=items, refused=end.refused, error=end.error, record=end.record)


def sort_out(
    chunk: list[PreparedRequest],
    end: BatchEnd,
    outcomes: dict[int, BatchOutcome],
    to_standard: list[PreparedRequest],
    *,
    fallback: bool,
) -> None:
    """Give each request of ``chunk`` its outcome from how its batch ended, or queue it
    for the standard API (when ``fallback``, or an operator's cancel asks for it)."""
    for request in chunk:
        if end.items is None:
            assert end.error is not None
            if end.refused and fallback:
                to_standard.append(request)
            else:
                outcomes[request.index] = error_outcome(request, end.error, "batch")
            continue
        # A request missing from the results was never answered: like expired.
        item = end.items.get(request.custom_id, ItemResult("expired"))
        if item.kind == "succeeded" and item.message is not None:
            outcomes[request.index] = BatchOutcome(
                request.custom_id, item.message, None, "batch", 0
            )
            continue
        operator = end.record.cancel if end.record is not None else None
        if item.kind == "canceled" and operator is not None:
            assert end.record is not None
            if operator.send_rest_standard:
                to_standard.append(request)
            else:
                stopped = _canceled_error(request, end.record, operator)
                outcomes[request.index] = error_outcome(request, stopped, "batch")
            continue
        if item.kind == "errored":
            error = item_error(item.error, request.custom_id)
        else:
            error = ProviderError(
                f"batch request {request.custom_id} was {item.kind} before it was answered",
                retryable=True,
            )
        if error.retryable and fallback:
            to_standard.append(request)
        else:
            outcomes[request.index] = error_outcome(request, error, "batch")


def error_outcome(request: PreparedRequest, error: ProviderError, source: Source) -> BatchOutcome:
    return BatchOutcome(request.custom_id, None, error, source, 0)


def _canceled_error(
    request: PreparedRequest, record: BatchRecord, cancel: BatchCancel
) -> BatchCanceled:
    provider_id = f" ({record.provider_batch_id})" if record.provider_batch_id else ""
    why = f": {cancel.reason}" if cancel.reason else ""
    return BatchCanceled(
        f"batch request {request.custom_id} was not answered: {cancel.by} canceled batch "
        f"{record.id}{provider_id}{why}. It was not sent anywhere else and nothing was "
        "billed for it",
        batch_id=record.id,
        provider_batch_id=record.provider_batch_id,
        canceled_by=cancel.by,
        reason=cancel.reason,
    )
