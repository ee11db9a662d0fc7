"""The crash-safe Message Batches client: its options, and ``run``'s journey through the
jobs of the modules beside it (recording and creating batches, polling, the standard-API
fallback, cancel, resume)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import anthropic

from llmopt.batching._backoff import Backoff, Pacing
from llmopt.batching._cancel import BatchCanceller
from llmopt.batching._in_flight import IN_FLIGHT, InFlight, OwnerGone
from llmopt.batching._ledger import Claims, Ledger
from llmopt.batching._outcomes import (
    as_answers_to,
    copy_of,
    error_outcome,
    first_of_each,
    reuse,
    sort_out,
)
from llmopt.batching._polling import BatchPoller
from llmopt.batching._requests import (
    BatchOutcome,
    BatchRequest,
    PreparedRequest,
    plan_batches,
    prepare_requests,
)
from llmopt.batching._resume import BatchResumer
from llmopt.batching._standard import StandardFallback
from llmopt.batching._submitting import BatchSubmitter, Held
from llmopt.batching._sync import LoopThread
from llmopt.batching._tracker import BatchTracker
from llmopt.errors import ProviderError
from llmopt.providers import ProviderCapabilities
from llmopt.store import BatchRecord, Store
from llmopt.store._records import utcnow

logger = logging.getLogger("llmopt.batching")


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
        clock: Callable[[], datetime] = utcnow,
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
        self._in_flight = in_flight
        self._loop_thread = LoopThread(f"llmopt-batches-{entry_key}")
        pacing = Pacing(Backoff(poll_initial, poll_max, rng or random.Random()), sleep, deadline)
        ledger = Ledger(
            store, clock, claim_ttl=claim_ttl if claim_ttl is not None else 2 * poll_max
        )
        tracker = BatchTracker(client, ledger)
        self._ledger = ledger
        self._submitter = BatchSubmitter(client, ledger, pacing, entry_key)
        self._canceller = BatchCanceller(client, ledger)
        self._poller = BatchPoller(client, ledger, tracker, self._canceller, pacing)
        self._standard = StandardFallback(client, ledger, pacing, standard_attempts)
        self._resumer = BatchResumer(ledger, tracker, pacing, entry_key)

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
        unique, copies = first_of_each(prepared)
        # Claimed before the stored answers are read: a run that answers one of these
        # stores its answer before it lets go, so no answer falls between the two.
        mine, theirs = self._in_flight.claim(self._entry_key, unique)
        try:
            await self._answer(await reuse(self._ledger, mine, outcomes), started, outcomes)
        finally:
            self._in_flight.settle(self._entry_key, mine, outcomes)
        # Only now, with this run's own claims settled: two runs waiting on each other
        # would otherwise wait forever.
        gone: list[PreparedRequest] = []
        for request, answer in theirs:
            try:
                outcomes[request.index] = copy_of(await asyncio.wrap_future(answer), request)
            except OwnerGone:
                gone.append(request)
        if gone:
            await self._answer(await reuse(self._ledger, gone, outcomes), started, outcomes)
        for duplicate, original in copies:
            outcomes[duplicate.index] = copy_of(outcomes[original.index], duplicate)
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
                outcomes[request.index] = error_outcome(request, too_big, "batch")
        claims = Claims()
        waiting: list[tuple[BatchRecord, list[PreparedRequest]]] = []
        held: Held = {}
        for planned in plan.batches:
            record, chunk = await self._submitter.record_unless_held(planned, claims, held)
            if record is None:
                continue
            submission = await self._submitter.create(record, chunk, claims)
            if submission.error is None:
                waiting.append((submission.record, chunk))
            elif submission.ambiguous:
                # The batch may exist and answer these: resending could bill twice.
                for request in chunk:
                    outcomes[request.index] = error_outcome(request, submission.error, "batch")
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
            *(self._poller.wait(record, started, claims) for record, _ in [*waiting, *joined])
        )
        for (_, chunk), end in zip(waiting, ends[: len(waiting)], strict=True):
            sort_out(chunk, end, outcomes, to_standard, fallback=self._fallback)
        unsent: list[PreparedRequest] = []
        for (record, chunk), end in zip(joined, ends[len(waiting) :], strict=True):
            if rebatch and end.refused:
                unsent.extend(chunk)
            else:
                theirs = as_answers_to(end, record, chunk)
                sort_out(chunk, theirs, outcomes, to_standard, fallback=self._fallback)
        if not unsent:
            await self._standard.answer(to_standard, outcomes)
            return
        await asyncio.gather(
            self._standard.answer(to_standard, outcomes),
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
        unique, _ = first_of_each(prepared)
        to_send = await reuse(self._ledger, unique, {})
        plan = plan_batches(to_send, max_requests=self._max_requests, max_bytes=self._max_bytes)
        for request in plan.oversized:
            logger.error("request %s is too big for a batch; not sent", request.custom_id)
        claims = Claims()
        created: list[BatchRecord] = []
        held: Held = {}
        for planned in plan.batches:
            record, chunk = await self._submitter.record_unless_held(planned, claims, held)
            if record is not None:
                created.append((await self._submitter.create(record, chunk, claims)).record)
        return [*created, *(record for record, _ in held.values())]

    # -- operating on the ledger ----------------------------------------------------------

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
        return await self._canceller.cancel(
            record_id, by=by, reason=reason, send_rest_standard=send_rest_standard
        )

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
        return await self._resumer.resume(wait=wait)
