"""Pooling calls into Message Batches: the accumulator behind the wrapper's batched calls.

Calls that may wait (``abatch``/``batch``, every call under ``batch_only``, and calls
made with ``deferrable=True`` under ``auto``) hand their request to a
:class:`BatchDispatcher` and wait for its answer. The dispatcher runs on its own event
loop in a daemon thread, so callers on any thread or loop can use it, and pools
requests until ``batchMaxSize`` are waiting, a whole ``abatch`` group has arrived, or
``batchTimeout`` seconds have passed since the oldest one — whichever comes first —
then submits them as one run of the batch client. Each caller gets its own outcome.
A group's calls arrive together; when some never do (LangChain's own cache answered
them), the pool is submitted once ``GROUP_IDLE_SECONDS`` pass with no more of them.

If batching is switched off (flags, kill switch) before a pooled request is submitted,
it is handed back unsubmitted and its caller uses the standard API; batches already
submitted are still collected. The wrappers' live flags may be up to one watcher
interval old, so right before each batch is submitted the dispatcher asks the store
itself (``recheck``, one read per batch, off the callers' path): once an operator's
kill switch is in the store, no new batch starts. ``close()`` (also run at interpreter exit) submits
whatever is pooled and waits for every run, so nothing accepted is dropped.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import anthropic

from llmopt.batching import AnthropicBatchClient, BatchOutcome, BatchRequest
from llmopt.batching._sync import LoopThread
from llmopt.config import OptimizationConfig, load_document
from llmopt.errors import LLMOptError
from llmopt.killswitch import read_kill_switch
from llmopt.store import Store

logger = logging.getLogger("llmopt.wrapper")

GROUP_IDLE_SECONDS = 1.0
"""How long an incomplete ``abatch`` group waits for its next call before it is sent."""

Outcome = BatchOutcome | None
"""``None``: not submitted because batching was switched off; use the standard API."""


@dataclass(eq=False)
class BatchGroup:
    """The calls of one ``abatch``: the pool flushes as soon as all of them arrived."""

    size: int
    arrived: int = 0


current_group: contextvars.ContextVar[BatchGroup | None] = contextvars.ContextVar(
    "llmopt_batch_group", default=None
)


@dataclass
class _Pending:
    request: BatchRequest
    future: concurrent.futures.Future[Outcome]
    group: BatchGroup | None


@dataclass
class _Pool:
    waiting: list[_Pending] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    group_idle: asyncio.TimerHandle | None = None


class BatchDispatcher:
    """Pools requests and runs them through an :class:`AnthropicBatchClient`.

    ``make_client`` builds the batch client and the SDK client under it, on the
    dispatcher's own loop (an HTTP pool belongs to one loop); ``close()`` closes both.
    ``settings`` returns the current ``(enabled, max_size, timeout)`` so live flag
    changes apply to the next flush. ``recheck``, when given, is asked (in a worker
    thread) right before each batch is submitted whether batching is still on; it reads
    the store (:func:`store_allows_batching`), and ``False`` or an error hands the
    batch's requests back unsubmitted.
    """

    def __init__(
        self,
        make_client: Callable[[], tuple[AnthropicBatchClient, anthropic.AsyncAnthropic]],
        settings: Callable[[], tuple[bool, int, float]],
        *,
        recheck: Callable[[], bool] | None = None,
    ) -> None:
        self._make_client = make_client
        self._settings = settings
        self._recheck = recheck
        self._client: AnthropicBatchClient | None = None
        self._sdk: anthropic.AsyncAnthropic | None = None
        self._pool = _Pool()
        self._runs: set[asyncio.Task[None]] = set()
        self._loop_thread = LoopThread("llmopt-batch-dispatcher")
        self._loop = self._loop_thread.loop
        self._closed = False
        _open_dispatchers.add(self)

    def submit(self, request: BatchRequest) -> concurrent.futures.Future[Outcome]:
        """Pool ``request``; the future resolves to its outcome (thread-safe)."""
        if self._closed:
            raise RuntimeError("the batch dispatcher is closed")
        future: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
        group = current_group.get()
        self._loop.call_soon_threadsafe(self._add, _Pending(request, future, group))
        return future

    async def asubmit(self, request: BatchRequest) -> Outcome:
        """:meth:`submit` for async callers, on whatever loop they run."""
        return await asyncio.wrap_future(self.submit(request))

    def close(self, timeout: float | None = None) -> None:
        """Submit what is pooled, wait for every run to finish, stop the loop.

        With a ``timeout``, runs still going after that many seconds are cancelled
        (their callers get ``TimeoutError``) and ``TimeoutError`` is raised. Their
        batches stay in the store's ledger as in progress, so the batch client's
        ``resume()`` collects them later: a process can stop without waiting for them.
        """
        if self._closed:
            return
        self._closed = True
        done = self._loop_thread.submit(self._drain())
        try:
            done.result(timeout=timeout)
        except TimeoutError:
            done.cancel()
            self._loop_thread.submit(self._abandon()).result(timeout=5)
            raise
        finally:
            self._loop_thread.stop(timeout=5)
            _open_dispatchers.discard(self)

    # -- on the dispatcher's loop ----------------------------------------------------

    def _add(self, pending: _Pending) -> None:
        pool = self._pool
        pool.waiting.append(pending)
        enabled, max_size, timeout = self._settings()
        group = pending.group
        group_complete = False
        if group is not None:
            group.arrived += 1
            group_complete = group.arrived >= group.size
        if len(pool.waiting) >= max_size or group_complete or not enabled:
            self._flush()
            return
        if pool.timer is None:
            pool.timer = self._loop.call_later(timeout, self._flush)
        if group is not None:
            if pool.group_idle is not None:
                pool.group_idle.cancel()
            pool.group_idle = self._loop.call_later(GROUP_IDLE_SECONDS, self._flush)

    def _flush(self) -> None:
        pool = self._pool
        for timer in (pool.timer, pool.group_idle):
            if timer is not None:
                timer.cancel()
        pool.timer = pool.group_idle = None
        waiting, pool.waiting = pool.waiting, []
        if not waiting:
            return
        enabled, max_size, _ = self._settings()
        if not enabled:
            for pending in waiting:
                pending.future.set_result(None)
            return
        for start in range(0, len(waiting), max_size):
            task = self._loop.create_task(self._run(waiting[start : start + max_size]))
            self._runs.add(task)
            task.add_done_callback(self._runs.discard)

    async def _run(self, chunk: list[_Pending]) -> None:
        if not await self._still_on():
            logger.info("batching was switched off: %d requests go to the standard API", len(chunk))
            for pending in chunk:
                if not pending.future.done():
                    pending.future.set_result(None)
            return
        try:
            if self._client is None:
                self._client, self._sdk = self._make_client()
            outcomes = await self._client.run([p.request for p in chunk])
        except BaseException as exc:  # every caller must hear of it, whatever it was
            told: BaseException = exc
            if isinstance(exc, asyncio.CancelledError):
                # close(timeout) gave up on it: an Exception the caller's code can handle.
                told = TimeoutError(
                    "the model was closed before its batch ended; the batch stays in the "
                    "ledger for resume() to collect"
                )
            else:
                logger.exception("batch run of %d requests failed", len(chunk))
            for pending in chunk:
                if not pending.future.done():
                    pending.future.set_exception(told)
            if not isinstance(exc, Exception):
                raise
            return
        for pending, outcome in zip(chunk, outcomes, strict=True):
            if not pending.future.done():  # a caller that gave up has cancelled it
                pending.future.set_result(outcome)

    async def _still_on(self) -> bool:
        if self._recheck is None:
            return True
        try:
            return await asyncio.to_thread(self._recheck)  # as the ledger's store calls
        except Exception:
            logger.exception("re-reading the flags before a batch failed; not submitting it")
            return False

    async def _drain(self) -> None:
        self._flush()
        while self._runs:
            await asyncio.gather(*list(self._runs), return_exceptions=True)
        if self._sdk is not None:
            await self._sdk.close()

    async def _abandon(self) -> None:
        for task in list(self._runs):
            task.cancel()
        await asyncio.gather(*list(self._runs), return_exceptions=True)
        if self._sdk is not None:
            await self._sdk.close()


def store_allows_batching(
    store: Store, entry_key: str, *, default: OptimizationConfig | None
) -> bool:
    """Whether ``store``, read now, lets ``entry_key`` submit a batch.

    No when the kill switch is engaged (or missing, or unreadable), when the document
    cannot be read, or when the entry's flags (``default`` for an entry the document
    does not have, as the watcher does) do not apply batching. Never raises.
    """
    if read_kill_switch(store).engaged:
        return False
    try:
        document = load_document(store)
    except LLMOptError:
        return False
    configs = {entry.key: entry.config for entry in document.entries}
    config = configs.get(entry_key, default)
    return config is not None and config.applies_batching


_open_dispatchers: weakref.WeakSet[BatchDispatcher] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for dispatcher in list(_open_dispatchers):
        try:
            dispatcher.close(timeout=60)
        except Exception:
            logger.exception("flushing pooled batch requests at exit failed")
