"""The demo's traffic: a backend's calls through a real ``OptimizedLLMWrapper``.

The model comes from ``llmopt.get_generator_model`` with the console's store, exactly
as a backend service would build it, so it follows the entry's live flags and the
kill switch (the flag watcher) and its usage reaches the store as roll-ups (the
usage recorder). :class:`TrafficGenerator` then loops: an interactive question every
``interactive_every`` seconds over one long shared system prompt (some streamed), and
every ``batch_every`` seconds an ``abatch`` of review-sorting prompts, which the
wrapper sends as one Message Batch while batching is on. Each call is reported as one
:class:`CallReport` (logged as one line: which path it took, tokens, time; never the
key). A failed call is reported and the loop goes on; :meth:`TrafficGenerator.stop`
ends it from any thread or a signal handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from llmopt import OptimizedLLMWrapper, TokenUsage, get_generator_model
from llmopt.config import load_document
from llmopt.store import Store

from .prompts import SYSTEM_PROMPT, question, review_task

logger = logging.getLogger("console.demo.traffic")

DEMO_BATCH_OPTIONS: Mapping[str, Any] = {"poll_initial": 1.0, "poll_max": 2.0}
"""Poll batches every 1-2 s so the ledger, and the batches page, follow them closely."""

Kind = Literal["invoke", "stream", "batch"]
Path = Literal["cached", "batched", "standard", "failed"]


@dataclass(frozen=True, slots=True)
class TrafficPace:
    """How often and how much the generator calls; the defaults suit a watched demo.

    Ranges are ``(low, high)``; each wait or size is drawn uniformly from its range.
    """

    interactive_every: tuple[float, float] = (1.0, 2.0)
    stream_share: float = 0.25
    first_batch_after: float = 5.0
    batch_every: tuple[float, float] = (20.0, 30.0)
    batch_size: tuple[int, int] = (10, 50)
    max_batches_in_flight: int = 3
    batch_concurrency: int = 8
    """How many of a batch's prompts run at once when it goes to the standard API."""


@dataclass(frozen=True, slots=True)
class CallReport:
    """One call the generator made: which path it took and what it used.

    ``path`` is read from the answers' usage, not guessed from the flags: ``batched``
    when the Message Batches API billed it, ``cached`` when the prompt cache was read
    or written, ``standard`` when neither (optimization off), ``failed`` on an error.
    ``input_tokens`` is the uncached input only, as Anthropic bills it.
    """

    kind: Kind
    path: Path
    prompts: int
    started_at: float
    seconds: float
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    failures: int = 0
    error: str | None = None

    def line(self) -> str:
        """The log line for this call."""
        what = self.kind if self.prompts == 1 else f"{self.kind} of {self.prompts}"
        if self.error is not None:
            return f"{what:<14} failed     after {self.seconds:.1f}s: {self.error}"
        failed = f" failed={self.failures}" if self.failures else ""
        return (
            f"{what:<14} {self.path:<10} in={self.input_tokens} "
            f"cache_read={self.cache_read_tokens} cache_write={self.cache_write_tokens} "
            f"out={self.output_tokens}{failed} {self.seconds:.1f}s"
        )


def build_model(store: Store, entry_key: str) -> BaseChatModel:
    """The chat model for ``entry_key`` of the stored aiconfigs, as a backend builds it.

    Raises ``RecordNotFound`` for an unknown entry and ``ConfigError`` when no model can
    be built for it.
    """
    entry = load_document(store).entry(entry_key)
    model = get_generator_model(
        entry.provider or "",
        entry.configuration or {},
        store=store,
        entry_key=entry_key,
        batch_options=DEMO_BATCH_OPTIONS,
    )
    if isinstance(model, OptimizedLLMWrapper) and model.watcher is not None:
        # Read the flags now: until the watcher's first read, calls would go out bare.
        model.watcher.refresh()
    return model


def shutdown(model: BaseChatModel, *, batch_timeout: float = 2.0) -> None:
    """Stop the model's background work: give up on running batches, flush usage.

    Batches still running after ``batch_timeout`` seconds stay in the ledger, where
    the batch poller (``resume()``) collects them.
    """
    if not isinstance(model, OptimizedLLMWrapper):
        return
    try:
        model.close(timeout=batch_timeout)
    except TimeoutError:
        logger.info("batches still running are left in the ledger for the poller")
    if model.recorder is not None:
        model.recorder.stop()
    if model.watcher is not None:
        model.watcher.stop()


class TrafficGenerator:
    """Calls ``model`` like a busy backend until stopped; see the module docstring.

    ``on_call`` receives every :class:`CallReport` (after it is logged), from the
    generator's event loop. ``seed`` makes the questions and waits repeatable.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        pace: TrafficPace | None = None,
        on_call: Callable[[CallReport], None] | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.pace = pace or TrafficPace()
        self._on_call = on_call
        self._rng = random.Random(seed)
        self._clock = clock
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = threading.Event()

    def stop(self) -> None:
        """End :meth:`run` soon; safe from any thread and from a signal handler."""
        self._stop_requested.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)

    async def run(self) -> None:
        """Call until :meth:`stop`; batches still waiting then are cancelled."""
        self._loop = asyncio.get_running_loop()
        self._stop = stop = asyncio.Event()
        if self._stop_requested.is_set():
            return
        batches: set[asyncio.Task[None]] = set()
        next_batch = self._clock() + self.pace.first_batch_after
        try:
            while not stop.is_set():
                if self._clock() >= next_batch:
                    next_batch = self._clock() + self._rng.uniform(*self.pace.batch_every)
                    self._start_batch(batches)
                if self._rng.random() < self.pace.stream_share:
                    await self._report(self.stream_once())
                else:
                    await self._report(self.invoke_once())
                with contextlib.suppress(TimeoutError):
                    wait = self._rng.uniform(*self.pace.interactive_every)
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            for task in batches:
                task.cancel()
            await asyncio.gather(*batches, return_exceptions=True)

    def _start_batch(self, batches: set[asyncio.Task[None]]) -> None:
        if len(batches) >= self.pace.max_batches_in_flight:
            logger.info("batch skipped: %d still running", len(batches))
            return
        size = self._rng.randint(*self.pace.batch_size)
        task = asyncio.create_task(self._report(self.batch_once(size)))
        batches.add(task)
        task.add_done_callback(batches.discard)

    # -- one call of each kind -------------------------------------------------------

    def _conversation(self, text: str) -> list[BaseMessage]:
        return [SystemMessage(SYSTEM_PROMPT), HumanMessage(text)]

    async def invoke_once(self) -> CallReport:
        """One interactive question, answered whole."""
        started = self._clock()
        try:
            answer = await self.model.ainvoke(self._conversation(question(self._rng)))
        except Exception as exc:
            return _failure("invoke", 1, started, self._clock(), exc)
        return _report_of("invoke", [answer], started, self._clock())

    async def stream_once(self) -> CallReport:
        """One interactive question, streamed as a chat UI would."""
        started = self._clock()
        whole: Any = None
        try:
            async for chunk in self.model.astream(self._conversation(question(self._rng))):
                whole = chunk if whole is None else whole + chunk
        except Exception as exc:
            return _failure("stream", 1, started, self._clock(), exc)
        answers = [whole] if isinstance(whole, AIMessage) else []
        return _report_of("stream", answers, started, self._clock())

    async def batch_once(self, size: int) -> CallReport:
        """``size`` review-sorting prompts in one ``abatch`` (a Message Batch when on)."""
        started = self._clock()
        inputs = [self._conversation(review_task(self._rng)) for _ in range(size)]
        try:
            answers = await self.model.abatch(
                inputs,  # type: ignore[arg-type]
                {"max_concurrency": self.pace.batch_concurrency},
                return_exceptions=True,
            )
        except Exception as exc:
            return _failure("batch", size, started, self._clock(), exc)
        return _report_of("batch", answers, started, self._clock())

    async def _report(self, call: Coroutine[Any, Any, CallReport]) -> None:
        report = await call
        if report.error is not None:
            logger.warning("%s", report.line())
        else:
            logger.info("%s", report.line())
        if self._on_call is not None:
            self._on_call(report)


def _failure(kind: Kind, prompts: int, started: float, ended: float, exc: Exception) -> CallReport:
    return CallReport(
        kind=kind,
        path="failed",
        prompts=prompts,
        started_at=started,
        seconds=ended - started,
        failures=prompts,
        error=_describe(exc),
    )


def _describe(exc: BaseException) -> str:
    # The SDK's messages carry the status and the API's error body, never the key.
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


def _report_of(kind: Kind, answers: Sequence[object], started: float, ended: float) -> CallReport:
    tokens = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
    batched = failures = 0
    first_error: str | None = None
    for answer in answers:
        if not isinstance(answer, AIMessage):
            failures += 1
            if first_error is None and isinstance(answer, BaseException):
                first_error = _describe(answer)
            continue
        # TokenUsage reads LangChain's per-TTL cache-write counters, which
        # langchain-anthropic reports instead of the generic one.
        usage = TokenUsage.from_langchain(answer.usage_metadata or {})
        writes = usage.cache_write_5m_tokens + usage.cache_write_1h_tokens
        tokens["cache_read"] += usage.cache_read_tokens
        tokens["cache_write"] += writes
        tokens["input"] += usage.input_tokens
        tokens["output"] += usage.output_tokens
        billed = answer.response_metadata.get("usage") or {}
        batched += billed.get("service_tier") == "batch"
    path: Path
    if failures == len(answers):
        path = "failed"
    elif batched:
        path = "batched"
    elif tokens["cache_read"] or tokens["cache_write"]:
        path = "cached"
    else:
        path = "standard"
    return CallReport(
        kind=kind,
        path=path,
        prompts=len(answers),
        started_at=started,
        seconds=ended - started,
        input_tokens=tokens["input"],
        cache_read_tokens=tokens["cache_read"],
        cache_write_tokens=tokens["cache_write"],
        output_tokens=tokens["output"],
        failures=failures,
        error=first_error if path == "failed" else None,
    )
