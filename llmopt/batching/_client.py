"""The crash-safe Message Batches client: submit, wait, collect, fall back."""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import anthropic
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request

from llmopt.batching._backoff import Backoff
from llmopt.batching._errors import item_error, provider_error, retry_after
from llmopt.batching._in_flight import IN_FLIGHT, InFlight, OwnerGone
from llmopt.batching._ledger import Claims, Ledger
from llmopt.batching._requests import (
    BatchOutcome,
    BatchRequest,
    PreparedRequest,
    Source,
    plan_batches,
    prepare_requests,
)
from llmopt.batching._results import ItemResult, as_json_dict, fetch_results
from llmopt.batching._sync import LoopThread
from llmopt.batching._tracker import (
    RESULTS_KEPT,
    BatchTracker,
    Progress,
    find_orphan,
    provider_state,
)
from llmopt.errors import BatchCanceled, ProviderError, StoreError
from llmopt.providers import ProviderCapabilities
from llmopt.store import BatchCancel, BatchRecord, BatchStatus, Store, StoredResult

logger = logging.getLogger("llmopt.batching")

_FINISHED = (BatchStatus.ENDED, BatchStatus.FAILED)
_CANCEL_POLLS = 10
"""Polls to wait, after cancelling at the deadline, for the batch to end."""
_LOST_CREATE_LOOKS = 3
"""Times to look for the batch a create without an answer may have made."""
_STANDARD_CONCURRENCY = 8
_RESUME_CONCURRENCY = 8


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Submission:
    record: BatchRecord
    error: ProviderError | None = None
    ambiguous: bool = False  # the batch may exist: its requests must not be resent


@dataclass(frozen=True, slots=True)
class _BatchEnd:
    items: dict[str, ItemResult] | None = None
    refused: bool = False  # nothing exists at the provider: resending is safe
    error: ProviderError | None = None
    record: BatchRecord | None = None  # as it ended: says whether an operator canceled it


class AnthropicBatchClient:
    """Answers many Messages requests through Anthropic's Message Batches, crash-safely.

    Use :meth:`run` (or :meth:`run_sync`) to get one :class:`BatchOutcome` per request,
    in input order; :meth:`submit` and :meth:`resume` split the same work between a
    producer and a poller (a Celery beat task). Every batch is written to the
    ``store``'s ledger before it is created and updated as it progresses; every
    answer is stored under its request's fingerprint, so identical requests sent
    again (after a crash, say) are answered from the store and not paid twice.

    ============================  ==============================================
    option                        meaning
    ============================  ==============================================
    ``entry_key``                 the config entry the ledger records belong to
    ``model``                     model for requests whose params name none
    ``fallback_to_standard``      resend what a batch could not answer on the
                                  Messages API (else: error outcomes / raise);
                                  a callable is asked each time, so a live
                                  flag applies to runs already going
    ``max_requests``/``max_bytes``  per-batch limits (default: the provider's)
    ``poll_initial``/``poll_max``  polling backoff, seconds (jittered, doubling)
    ``deadline``                  seconds ``run`` waits before cancelling (what
                                  that cancel stops goes to the Messages API)
    ``standard_attempts``         Messages API attempts per fallen-back request
    ``clock``/``sleep``/``rng``   seams for tests (aware UTC datetimes)
    ``claim_ttl``                 seconds a worker's claim on a record lasts
                                  without refresh (default ``2 * poll_max``)
    ``in_flight``                 the requests this process answers now, shared
                                  by its clients (default: the process's own
                                  :class:`InFlight`)
    ============================  ==============================================

    An operator's :meth:`cancel` (``by=``) is recorded in the ledger and stops
    spending: the requests it stops are not sent anywhere else, and their callers get
    :class:`~llmopt.errors.BatchCanceled`, unless the operator chose
    ``send_rest_standard``.

    One client may serve several concurrent ``run`` calls on one event loop. The
    SDK client's own retries come first; this client adds its backoff on top.
    Raises ``ValueError`` for an option out of range.
    """

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        store: Store,
        *,
        entry_key: str,
        model: str | None = None,
        fallback_to_standard: bool | Callable[[], bool] = True,
        max_requests: int | None = None,
        max_bytes: int | None = None,
        poll_initial: float = 1.0,
        poll_max: float = 60.0,
        deadline: float = 24 * 3600,
        standard_attempts: int = 3,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        claim_ttl: float | None = None,
        in_flight: InFlight = IN_FLIGHT,
    ) -> None:
        limits = ProviderCapabilities.detect("anthropic").batch
        assert limits is not None
        if max_requests is not None and max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if poll_initial <= 0 or poll_max < poll_initial:
            raise ValueError("poll_initial must be above 0 and poll_max at least poll_initial")
        if deadline <= 0:
            raise ValueError("deadline must be above 0 seconds")
        if standard_attempts < 1:
            raise ValueError("standard_attempts must be at least 1")
        if claim_ttl is not None and claim_ttl <= 0:
            raise ValueError("claim_ttl must be above 0 seconds")
        self._client = client
        self._entry_key = entry_key
        self._model = model
        self._fallback_setting = fallback_to_standard
        self._max_requests = max_requests if max_requests is not None else limits.max_requests
        self._max_bytes = max_bytes if max_bytes is not None else limits.max_bytes
        self._deadline = deadline
        self._standard_attempts = standard_attempts
        self._sleep = sleep
        self._backoff = Backoff(poll_initial, poll_max, rng or random.Random())
        self._ledger = Ledger(
            store, clock, claim_ttl=claim_ttl if claim_ttl is not None else 2 * poll_max
        )
        self._tracker = BatchTracker(client, self._ledger)
        self._in_flight = in_flight
        self._loop_thread = LoopThread(f"llmopt-batches-{entry_key}")

    def __repr__(self) -> str:
        return f"AnthropicBatchClient(entry_key={self._entry_key!r}, model={self._model!r})"

    @property
    def _fallback(self) -> bool:
        setting = self._fallback_setting
        return setting() if callable(setting) else setting

    # -- the whole journey -------------------------------------------------------------

    async def run(self, requests: Sequence[BatchRequest]) -> list[BatchOutcome]:
        """Answer ``requests``: reuse, submit, wait, collect, fall back; outcomes in order.

        Requests with a stored answer are not sent (``source="reused"``). The rest go
        out in as many batches as the limits require (one model per batch). Errored
        items of a retryable kind and expired or canceled items are retried on the
        Messages API (``source="standard"``) when ``fallback_to_standard``; items the
        provider rejected as invalid come back with ``error`` set. Past ``deadline``
        the batches are cancelled, what succeeded is kept and the rest is sent to the
        Messages API. Items an operator's cancel stopped (see :meth:`cancel`) come back
        with a :class:`~llmopt.errors.BatchCanceled` error and are not sent again, or,
        when the operator chose ``send_rest_standard``, go to the Messages API whatever
        ``fallback_to_standard`` says. An item is never resent once its batch answer succeeded, nor
        while its batch might still answer it. A request that an unfinished batch in
        the ledger already holds (one a crashed process left running, or another
        process's) is not sent again: the ledger refuses to record it twice, and the
        run waits for that batch and takes its answer. Identical requests within one
        run, or in runs of this process that overlap, are sent once; the copies get
        the same answer (``source="reused"``) or the same error.

        Raises ``ValueError`` for malformed requests (see :class:`BatchRequest`) and
        ``ProviderError`` when the provider refuses a batch and
        ``fallback_to_standard`` is off (batches created before it stay in the
        ledger; :meth:`resume` collects them).
        """
        started = self._ledger.now()
        prepared = prepare_requests(requests, default_model=self._model)
        outcomes: dict[int, BatchOutcome] = {}
        unique, copies = _first_of_each(prepared)
        # Claimed before the stored answers are read: a run that answers one of these
        # stores its answer before it lets go, so no answer falls between the two.
        mine, theirs = self._in_flight.claim(self._entry_key, unique)
        try:
            await self._answer(await self._reuse(mine, outcomes), started, outcomes)
        finally:
            self._in_flight.settle(self._entry_key, mine, outcomes)
        # Only now, with this run's own claims settled: two runs waiting on each other
        # would otherwise wait forever.
        gone: list[PreparedRequest] = []
        for request, answer in theirs:
            try:
                outcomes[request.index] = _copy_of(await asyncio.wrap_future(answer), request)
            except OwnerGone:
                gone.append(request)
        if gone:
            await self._answer(await self._reuse(gone, outcomes), started, outcomes)
        for duplicate, original in copies:
            outcomes[duplicate.index] = _copy_of(outcomes[original.index], duplicate)
        return [outcomes[request.index] for request in prepared]

    async def _answer(
        self,
        to_send: list[PreparedRequest],
        started: datetime,
        outcomes: dict[int, BatchOutcome],
        *,
        rebatch: bool = True,
    ) -> None:
        """Answer ``to_send`` (no stored answers, one per fingerprint) into ``outcomes``:
        batch them, joining unfinished batches that already hold some; fall back.

        Requests of a joined batch that never existed at the provider (its submitter
        died before creating it) are batched again, once (``rebatch``): they were
        meant for the batch price, and nothing of them was sent."""
        plan = plan_batches(to_send, max_requests=self._max_requests, max_bytes=self._max_bytes)
        to_standard: list[PreparedRequest] = []
        for request in plan.oversized:
            if self._fallback:
                to_standard.append(request)
            else:
                too_big = ProviderError(
                    f"request {request.custom_id} alone exceeds a batch's {self._max_bytes} bytes",
                    retryable=False,
                    status_code=413,
                )
                outcomes[request.index] = _error(request, too_big, "batch")
        claims = Claims()
        waiting: list[tuple[BatchRecord, list[PreparedRequest]]] = []
        held: dict[str, tuple[BatchRecord, list[PreparedRequest]]] = {}
        for planned in plan.batches:
            record, chunk = await self._record_unless_held(planned, claims, held)
            if record is None:
                continue
            submission = await self._submit_recorded(record, chunk, claims)
            if submission.error is None:
                waiting.append((submission.record, chunk))
            elif submission.ambiguous:
                # The batch may exist and answer these: resending could bill twice.
                for request in chunk:
                    outcomes[request.index] = _error(request, submission.error, "batch")
            elif not self._fallback:
                raise submission.error
            else:
                logger.warning(
                    "%s: %d requests go to the standard API: %s",
                    submission.record.id,
                    len(chunk),
                    submission.error,
                )
                to_standard.extend(chunk)
        joined = list(held.values())
        ends = await asyncio.gather(
            *(self._wait(record, started, claims) for record, _ in [*waiting, *joined])
        )
        for (_, chunk), end in zip(waiting, ends[: len(waiting)], strict=True):
            self._sort_out(chunk, end, outcomes, to_standard)
        unsent: list[PreparedRequest] = []
        for (record, chunk), end in zip(joined, ends[len(waiting) :], strict=True):
            if rebatch and end.refused:
                unsent.extend(chunk)
            else:
                self._sort_out(chunk, _as_answers_to(end, record, chunk), outcomes, to_standard)
        if not unsent:
            await self._answer_on_standard(to_standard, outcomes)
            return
        await asyncio.gather(
            self._answer_on_standard(to_standard, outcomes),
            self._answer(unsent, started, outcomes, rebatch=False),
        )

    def run_sync(self, requests: Sequence[BatchRequest]) -> list[BatchOutcome]:
        """:meth:`run` for synchronous callers; blocks until every outcome is known.

        Runs on an event loop thread of this client's own, so the SDK client must not
        also be used on another loop. Raises what :meth:`run` raises.
        """
        return self._loop_thread.run(self.run(requests))

    def close(self) -> None:
        """Release what :meth:`run_sync` set up: its event loop thread, and the SDK client's
        connections, which live on that loop. Only needed after ``run_sync``; the client
        cannot run synchronously afterwards."""
        if self._loop_thread.started:
            self._loop_thread.stop(self._client.close())

    async def aclose(self) -> None:
        """Release the SDK client's connections after async use (:meth:`run`,
        :meth:`submit`, :meth:`resume` awaited on your own event loop, as a Celery task
        does). Await it on that loop; the client must not be used afterwards."""
        await self._client.close()

    # -- submitting ---------------------------------------------------------------------

    async def submit(self, requests: Sequence[BatchRequest]) -> list[BatchRecord]:
        """Record and create the batches for ``requests``, without waiting for them.

        Requests with a stored answer are skipped, identical requests are sent once,
        and a request that an unfinished batch in the ledger already holds (an earlier
        ``submit``'s, a ``run``'s, another process's) is not sent again: that batch
        answers it, so submitting the same work twice pays for it once.

        Returns one ledger record per batch that holds the requests sent: first those
        this call created, IN_PROGRESS once created, FAILED (with ``error``) when the
        provider refused it (nothing exists there and nothing is billed), PENDING when
        it could not be told whether the batch was created (``resume`` finds out);
        then the unfinished records that already held some of them, as they stood.
        Collect with :meth:`resume`; answers then land in the store by fingerprint. A
        request too big for any batch is left out (logged). Raises ``ValueError`` for
        malformed requests.
        """
        prepared = prepare_requests(requests, default_model=self._model)
        unique, _ = _first_of_each(prepared)
        to_send = await self._reuse(unique, {})
        plan = plan_batches(to_send, max_requests=self._max_requests, max_bytes=self._max_bytes)
        for request in plan.oversized:
            logger.error("request %s is too big for a batch; not sent", request.custom_id)
        claims = Claims()
        created: list[BatchRecord] = []
        held: dict[str, tuple[BatchRecord, list[PreparedRequest]]] = {}
        for planned in plan.batches:
            record, chunk = await self._record_unless_held(planned, claims, held)
            if record is not None:
                created.append((await self._submit_recorded(record, chunk, claims)).record)
        return [*created, *(record for record, _ in held.values())]

    async def _reuse(
        self, prepared: list[PreparedRequest], outcomes: dict[int, BatchOutcome]
    ) -> list[PreparedRequest]:
        stored = await self._ledger.get_results([p.fingerprint for p in prepared])
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

    def _new_record(self, chunk: list[PreparedRequest]) -> BatchRecord:
        now = self._ledger.now()
        return BatchRecord(
            id=f"batch_{uuid.uuid4().hex}",
            provider="anthropic",
            model=chunk[0].model,
            entry_key=self._entry_key,
            status=BatchStatus.PENDING,
            requests={request.custom_id: request.fingerprint for request in chunk},
            created_at=now,
            last_polled_at=now,  # claimed from birth: a live submit is never "orphaned"
        )

    async def _record_unless_held(
        self,
        chunk: list[PreparedRequest],
        claims: Claims,
        held: dict[str, tuple[BatchRecord, list[PreparedRequest]]],
    ) -> tuple[BatchRecord | None, list[PreparedRequest]]:
        """Record a batch of ``chunk``'s requests that no unfinished batch holds yet (one
        a crashed process left running, or another process's), and its claim. Each held
        request goes to ``held``, under the record holding it, to wait for that batch.
        Returns the new record (``None``: every request was held) and its requests."""
        while chunk:
            record = self._new_record(chunk)
            # Ledger first: whatever happens next, this record says a batch may exist.
            holders = await self._ledger.insert_unless_held(record)
            if not holders:
                claims.set(record.id, record.created_at)
                return record, chunk
            rest: list[PreparedRequest] = []
            for request in chunk:
                holder = holders.get(request.fingerprint)
                if holder is None:
                    rest.append(request)
                    continue
                if holder not in held:
                    held[holder] = (await self._ledger.get(holder), [])
                held[holder][1].append(request)
            logger.info(
                "%d requests are already in unfinished batches: waiting for those",
                len(chunk) - len(rest),
            )
            chunk = rest
        return None, []

    async def _submit_recorded(
        self, record: BatchRecord, chunk: list[PreparedRequest], claims: Claims
    ) -> _Submission:
        """Create the provider's batch for ``record``, already in the ledger and claimed."""
        items = [cast(Request, request.as_batch_item()) for request in chunk]
        # The create call has no idempotency key, so the SDK must not resend it blindly
        # after a lost answer (two batches, billed twice): we retry it ourselves, and
        # after a lost answer only once the batch is known not to exist.
        creator = self._client.with_options(max_retries=0)
        attempts = self._client.max_retries + 1
        for attempt in range(attempts):
            try:
                async with self._ledger.kept_claim(record.id, claims):
                    batch = await creator.messages.batches.create(requests=items)
            except anthropic.APIStatusError as exc:
                # The API answered with an error: no batch was created.
                error = provider_error(exc, doing=f"creating batch {record.id}")
                if not error.retryable or attempt + 1 >= attempts:
                    return _Submission(await self._mark_refused(record, str(error)), error)
                await self._sleep(self._backoff.delay(attempt, retry_after=retry_after(exc)))
                continue
            except anthropic.APIConnectionError as exc:
                error = provider_error(exc, doing=f"creating batch {record.id}")
                try:
                    lost = await self._find_lost_create(record)
                except anthropic.AnthropicError:
                    logger.warning("%s: cannot tell whether the batch was created", record.id)
                    unknown = ProviderError(
                        f"{error}; whether the batch was created is unknown, "
                        "resume() will find out",
                        retryable=True,
                    )
                    return _Submission(record, unknown, ambiguous=True)
                if lost is not None:
                    return _Submission(await self._record_created(record, lost, claims))
                if attempt + 1 >= attempts:
                    return _Submission(await self._mark_refused(record, str(error)), error)
                logger.warning("%s: create got no answer and made no batch; retrying", record.id)
                continue
            return _Submission(await self._record_created(record, batch, claims))
        raise AssertionError("unreachable: the last attempt always returns")

    async def _record_created(
        self, record: BatchRecord, batch: MessageBatch, claims: Claims
    ) -> BatchRecord:
        stamp = self._ledger.next_stamp(claims.get(record.id))
        changes: dict[str, Any] = {
            "status": BatchStatus.IN_PROGRESS,
            **provider_state(batch),
            "submitted_at": self._ledger.now(),
            "last_polled_at": stamp,
            "error": None,
        }
        # Not conditional on our claim: if a resume took the record for an orphan
        # meanwhile (and found nothing yet), the batch we just created must win.
        updated = await self._ledger.update(record.id, changes, expect={"provider_batch_id": None})
        if updated is not None:
            claims.set(record.id, stamp)
            logger.info("%s created as %s (%d requests)", record.id, batch.id, len(record.requests))
            return updated
        current = await self._ledger.get(record.id)
        if current.provider_batch_id != batch.id:
            logger.error(
                "%s was matched to provider batch %s while this submit created %s",
                record.id,
                current.provider_batch_id,
                batch.id,
            )
        return current

    async def _find_lost_create(self, record: BatchRecord) -> MessageBatch | None:
        # A create that got no answer may still be on its way through the provider:
        # look a few times, with backoff, before concluding it made nothing.
        for look in range(_LOST_CREATE_LOOKS):
            if look:
                await self._sleep(self._backoff.delay(look - 1))
            batch = await find_orphan(self._client, self._ledger, record)
            if batch is not None:
                return batch
        return None

    async def _mark_refused(self, record: BatchRecord, reason: str) -> BatchRecord:
        failed = await self._ledger.update(
            record.id,
            {"status": BatchStatus.FAILED, "error": reason, "ended_at": self._ledger.now()},
            expect={"provider_batch_id": None},
        )
        return failed or await self._ledger.get(record.id)

    # -- waiting ------------------------------------------------------------------------

    async def _wait(self, record: BatchRecord, started: datetime, claims: Claims) -> _BatchEnd:
        attempt = 0
        cancel_polls: int | None = None
        while True:
            hinted: float | None = None
            try:
                progress = await self._tracker.advance(await self._ledger.get(record.id), claims)
                end = await self._end_of(progress)
                if end is not None:
                    return end
            except (anthropic.AnthropicError, StoreError) as exc:
                if isinstance(exc, anthropic.APIStatusError):
                    error = provider_error(exc, doing=f"polling {record.id}")
                    if not error.retryable:  # bad key, no permission: waiting cannot help
                        logger.error("%s", error)
                        return _BatchEnd(error=error)
                hinted = retry_after(exc)
                logger.warning("polling %s failed, will retry: %s", record.id, exc)
            elapsed = (self._ledger.now() - started).total_seconds()
            if cancel_polls is None:
                if elapsed >= self._deadline:
                    await self._cancel_at_deadline(record)
                    cancel_polls, attempt = 0, 0
            else:
                cancel_polls += 1
                if cancel_polls > _CANCEL_POLLS:
                    return _BatchEnd(
                        error=ProviderError(
                            f"batch {record.id} did not end after it was cancelled at the "
                            "deadline; resume() will collect what it answered",
                            retryable=True,
                        )
                    )
            await self._sleep(self._backoff.delay(attempt, retry_after=hinted))
            attempt += 1

    async def _end_of(self, progress: Progress) -> _BatchEnd | None:
        record = progress.record
        if progress.items is not None:
            return _BatchEnd(items=progress.items, record=record)
        if record.status is BatchStatus.ENDED:
            # Collected by another worker: reading the results again costs nothing.
            assert record.provider_batch_id is not None
            items = await fetch_results(self._client, record.provider_batch_id)
            return _BatchEnd(items=items, record=record)
        if record.status is BatchStatus.FAILED:
            reason = record.error or "the batch failed"
            return _BatchEnd(refused=True, error=ProviderError(reason, retryable=True))
        return None

    async def _cancel_at_deadline(self, record: BatchRecord) -> None:
        logger.warning("%s passed the %ss deadline; cancelling it", record.id, self._deadline)
        try:
            await self.cancel(record.id)
        except (ProviderError, StoreError) as exc:
            logger.warning("cancelling %s failed: %s", record.id, exc)

    # -- sorting out what each request needs ------------------------------------------------

    def _sort_out(
        self,
        chunk: list[PreparedRequest],
        end: _BatchEnd,
        outcomes: dict[int, BatchOutcome],
        to_standard: list[PreparedRequest],
    ) -> None:
        for request in chunk:
            if end.items is None:
                assert end.error is not None
                if end.refused and self._fallback:
                    to_standard.append(request)
                else:
                    outcomes[request.index] = _error(request, end.error, "batch")
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
                    outcomes[request.index] = _error(request, stopped, "batch")
                continue
            if item.kind == "errored":
                error = item_error(item.error, request.custom_id)
            else:
                error = ProviderError(
                    f"batch request {request.custom_id} was {item.kind} before it was answered",
                    retryable=True,
                )
            if error.retryable and self._fallback:
                to_standard.append(request)
            else:
                outcomes[request.index] = _error(request, error, "batch")

    async def _answer_on_standard(
        self, requests: list[PreparedRequest], outcomes: dict[int, BatchOutcome]
    ) -> None:
        if not requests:
            return
        logger.info("sending %d requests to the standard API", len(requests))
        gate = asyncio.Semaphore(_STANDARD_CONCURRENCY)

        async def answer(request: PreparedRequest) -> None:
            async with gate:
                outcomes[request.index] = await self._standard(request)

        await asyncio.gather(*(answer(request) for request in requests))

    async def _standard(self, request: PreparedRequest) -> BatchOutcome:
        attempt = 0
        while True:
            attempt += 1
            try:
                message = await self._create_message(request.params)
            except anthropic.APIError as exc:
                error = provider_error(exc, doing=f"standard request {request.custom_id}")
                if not error.retryable or attempt >= self._standard_attempts:
                    return BatchOutcome(request.custom_id, None, error, "standard", attempt)
                await self._sleep(self._backoff.delay(attempt - 1, retry_after=retry_after(exc)))
                continue
            now = self._ledger.now()
            try:
                await self._ledger.put_results(
                    [
                        StoredResult(
                            fingerprint=request.fingerprint,
                            result=message,
                            created_at=now,
                            expires_at=now + RESULTS_KEPT,
                        )
                    ]
                )
            except StoreError:
                logger.exception("could not store the answer to %s", request.custom_id)
            return BatchOutcome(request.custom_id, message, None, "standard", attempt)

    async def _create_message(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            message = await self._client.messages.create(**params)
        except ValueError as exc:
            # The SDK refuses non-streaming calls that may outlast its timeout (a large
            # max_tokens); batches have no such limit, so stream the same request.
            if "Streaming is required" not in str(exc):
                raise
            async with self._client.messages.stream(**params) as stream:
                message = await stream.get_final_message()
        answer = as_json_dict(message)
        assert answer is not None
        return answer

    # -- operating on the ledger ------------------------------------------------------------

    async def cancel(
        self,
        record_id: str,
        *,
        by: str | None = None,
        reason: str = "",
        send_rest_standard: bool = False,
    ) -> BatchRecord:
        """Ask the provider to cancel a recorded batch; returns the updated record.

        The batch moves to CANCELING and ends with partial results, which
        :meth:`resume` (or a waiting :meth:`run`) collects. A finished record is
        returned unchanged.

        With ``by`` (who asks: an operator, a script) it is an operator's cancel: it is
        written to the ledger first (a ``BatchCancel`` with ``reason`` and
        ``send_rest_standard``), so every process learns of it. Then the requests it
        stops are not answered: the runs waiting for them give their callers
        :class:`~llmopt.errors.BatchCanceled` and nothing more is billed for them;
        with ``send_rest_standard`` those runs send them at once to the Messages API,
        at the standard price, instead. A batch an operator already canceled keeps
        that first cancel (and is only asked again while the provider has not taken
        it). Should the provider refuse, the cancel stays recorded with its
        ``problem`` and whoever polls the batch next (:meth:`resume`, a waiting
        :meth:`run`) asks again. Without ``by`` (the client's own cancel at its
        deadline), nothing is recorded and what the cancel stops is treated as
        expired: sent to the Messages API when ``fallback_to_standard``.

        Raises ``RecordNotFound`` for an unknown id, and ``ProviderError`` when the
        batch has not reached the provider yet (nothing recorded) or the provider
        refuses.
        """
        record = await self._ledger.get(record_id)
        if record.status in _FINISHED:
            return record
        if record.provider_batch_id is None:
            raise ProviderError(
                f"batch {record_id} has not reached the provider yet; nothing to cancel",
                retryable=True,
            )
        if by is not None:
            wanted = BatchCancel(
                by=by, at=self._ledger.now(), reason=reason, send_rest_standard=send_rest_standard
            )
            record = await self._record_cancel(record, wanted)
            if record.status is not BatchStatus.IN_PROGRESS:
                return record  # finished meanwhile, or the provider already has a cancel
        return await self._send_cancel(record)

    async def _record_cancel(self, record: BatchRecord, cancel: BatchCancel) -> BatchRecord:
        """The record with an operator's cancel: ``cancel``, or one recorded before it."""
        if record.cancel is not None:
            return record
        updated = await self._ledger.update(
            record.id, {"cancel": cancel}, expect={"cancel": None, "status": record.status.value}
        )
        return updated or await self._ledger.get(record.id)

    async def _send_cancel(self, record: BatchRecord) -> BatchRecord:
        assert record.provider_batch_id is not None
        try:
            batch = await self._client.messages.batches.cancel(record.provider_batch_id)
        except anthropic.AnthropicError as exc:
            error = provider_error(exc, doing=f"cancelling {record.id}")
            if record.cancel is not None:
                problem = record.cancel.model_copy(update={"problem": str(error)})
                await self._ledger.update(
                    record.id, {"cancel": problem}, expect={"cancel": record.cancel}
                )
            raise error from exc
        changes = provider_state(batch)
        if record.cancel is not None and record.cancel.problem is not None:
            changes["cancel"] = record.cancel.model_copy(update={"problem": None})
        updated = await self._ledger.update(
            record.id, changes, expect={"status": record.status.value}
        )
        return updated or await self._ledger.get(record.id)

    def cancel_sync(
        self,
        record_id: str,
        *,
        by: str | None = None,
        reason: str = "",
        send_rest_standard: bool = False,
    ) -> BatchRecord:
        """:meth:`cancel` for synchronous callers (a console view); :meth:`close` after.

        Raises what :meth:`cancel` raises.
        """
        return self._loop_thread.run(
            self.cancel(record_id, by=by, reason=reason, send_rest_standard=send_rest_standard)
        )

    async def resume(self, *, wait: bool = False) -> list[BatchRecord]:
        """Pick up this entry's unfinished ledger records and collect those that ended.

        Each PENDING, IN_PROGRESS or CANCELING record is claimed (compare-and-set on
        ``last_polled_at``; records another live worker holds are left to it), polled,
        and when its batch has ended, collected: answers into the result store, the
        record marked ENDED with counts and cost. A PENDING record left by a crashed
        submit is matched to the batch that submit created, or marked FAILED when there
        is none (see ``llmopt.batching``). A batch that fails is logged and retried on
        the next pass; it never stops the others.

        ``wait=False`` makes one pass (a periodic task); ``wait=True`` repeats, with
        backoff, until every record has finished or ``deadline`` seconds have passed.
        Returns the records this call acted on, in their latest state. Idempotent.
        Raises ``StoreError`` only when the ledger cannot be listed.
        """
        started = self._ledger.now()
        claims = Claims()
        acted: dict[str, BatchRecord] = {}
        gate = asyncio.Semaphore(_RESUME_CONCURRENCY)
        attempt = 0
        while True:
            unfinished = await self._ledger.unfinished(self._entry_key)
            if not unfinished:
                break
            hints: list[float] = []
            steps = await asyncio.gather(
                *(self._resume_step(record, claims, gate, hints) for record in unfinished)
            )
            for step in steps:
                if step is not None and step.held:
                    acted[step.record.id] = step.record
            left = [
                record
                for record, step in zip(unfinished, steps, strict=True)
                if step is None or step.record.status not in _FINISHED
            ]
            if not wait or not left:
                break
            if (self._ledger.now() - started).total_seconds() >= self._deadline:
                logger.warning("resume gave up waiting on %d batches at the deadline", len(left))
                break
            await self._sleep(self._backoff.delay(attempt, retry_after=max(hints, default=None)))
            attempt += 1
        return sorted(acted.values(), key=lambda record: (record.created_at, record.id))

    async def _resume_step(
        self,
        record: BatchRecord,
        claims: Claims,
        gate: asyncio.Semaphore,
        hints: list[float],
    ) -> Progress | None:
        async with gate:
            try:
                return await self._tracker.advance(record, claims)
            except Exception as exc:  # one bad batch must not stall the others
                hint = retry_after(exc)
                if hint is not None:
                    hints.append(hint)
                logger.warning("resuming %s failed, will retry: %s", record.id, exc, exc_info=True)
                return None


def _first_of_each(
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


def _copy_of(outcome: BatchOutcome, request: PreparedRequest) -> BatchOutcome:
    """``outcome`` for an identical ``request``: its answer was paid for once, by the first."""
    if outcome.message is None:
        return BatchOutcome(request.custom_id, None, outcome.error, outcome.source, 0)
    message = copy.deepcopy(outcome.message)  # each caller may change its own
    return BatchOutcome(request.custom_id, message, None, "reused", 0)


def _as_answers_to(end: _BatchEnd, record: BatchRecord, chunk: list[PreparedRequest]) -> _BatchEnd:
    """Another record's end, with its items under the ids ``chunk`` uses for the same
    requests (the record holds them under the custom ids its own run gave them)."""
    if end.items is None:
        return end
    theirs = {fingerprint: custom_id for custom_id, fingerprint in record.requests.items()}
    items = {
        request.custom_id: end.items.get(theirs[request.fingerprint], ItemResult("expired"))
        for request in chunk
    }
    return _BatchEnd(items=items, refused=end.refused, error=end.error, record=end.record)


def _error(request: PreparedRequest, error: ProviderError, source: Source) -> BatchOutcome:
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
