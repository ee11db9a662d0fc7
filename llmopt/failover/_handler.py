"""``FailoverHandler``: call the first healthy entry of a fallback chain, fail over on errors.

For each call, entries are tried in chain order. An entry whose circuit refuses is
skipped without a call; a failure is classified (:func:`classify_error`), recorded on the
circuit board and, per its class, either fails over to the next entry or is raised at
once (``invalid_request``: the same request would fail anywhere). A refusal answer may
fail over too (see :mod:`llmopt.failover._classify`). When nothing is left, a
``stored_response`` hook may answer; otherwise :class:`~llmopt.errors.NoHealthyEntry`.

Streaming fails over only before the first chunk is yielded: after that the caller has
part of an answer, and starting again elsewhere would repeat or contradict it, so a later
error propagates (and counts toward the entry's circuit).

Every answer carries ``response_metadata["llmopt_failover"]``:

======================= ===============================================================
key                     value
======================= ===============================================================
``entry``               the entry key that answered (``None`` for a stored response)
``attempts``            what happened before, in order: ``{"entry", "outcome"
                        ("skipped" / "failed" / "refused"), "error_class", "detail"}``
``failover_seconds``    from the first failure to this answer (``None`` without a
                        failure): the design's "backup answers within 2 s" figure
``elapsed_seconds``     the whole call
``stored_response``     true when the answer came from the ``stored_response`` hook
======================= ===============================================================
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, BaseMessageChunk
from langchain_core.runnables import RunnableConfig

from llmopt.errors import NoHealthyEntry
from llmopt.store import CircuitRecord, CircuitState, IncidentRecord
from llmopt.store._records import utcnow

from ._backoff import DEFAULT_BACKOFF, Backoff, aretry_with_backoff, retry_with_backoff
from ._board import KIND_FAILOVER, CircuitBoard
from ._classify import ErrorClass, classify_error, classify_response, retry_after_of

logger = logging.getLogger("llmopt.failover")

METADATA_KEY = "llmopt_failover"
_DETAIL_CHARS = 300

Outcome = Literal["skipped", "failed", "refused"]
StoredResponse = Callable[[LanguageModelInput], AIMessage | None]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One entry the handler passed over on its way to an answer, and why."""

    entry_key: str
    outcome: Outcome
    error_class: ErrorClass | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used in ``response_metadata``."""
        return {
            "entry": self.entry_key,
            "outcome": self.outcome,
            "error_class": None if self.error_class is None else str(self.error_class),
            "detail": self.detail,
        }

    def why(self) -> str:
        """A short phrase for :class:`~llmopt.errors.NoHealthyEntry`."""
        kind = f" ({self.error_class})" if self.error_class is not None else ""
        return f"{self.outcome}{kind}: {self.detail}" if self.detail else f"{self.outcome}{kind}"


class FailoverHandler:
    """Answer from the first healthy entry of ``chain``; see the module docstring.

    ``chain`` is the ordered fallback chain of ``(entry_key, chat model)`` pairs.
    ``board`` shares circuit breakers between processes (without one, every entry is
    always tried and no incident is recorded). ``stored_response(messages)`` may answer
    when nothing else can (the response cache plugs in here). ``gate(key)`` is asked
    before each entry is called and may give a reason to skip it (a spent budget); the
    skip is reported like an open circuit's.

    Retries happen only where no backup is ready. While a later entry of the chain would
    let a call through, an entry is called once, without retries, because the backup
    answers sooner than a retry's backoff would (the design's "switch within 2 s"):
    ``without_retries(key)`` gives the entry's model with its client's retries off (the
    chain's own model is used when it is unset or returns ``None``). The entry that is
    the last chance keeps its retries: the anthropic and openai clients retry on their
    own (``max_retries``, 2 by default), so the handler adds none for them; for a model
    without retries of its own (``ChatOllama``) it retries retryable errors up to
    ``max_retries`` times with :class:`Backoff`. ``sleep``/``asleep``, ``rng``, ``timer``
    and ``clock`` are seams.

    Raises the original exception for an ``invalid_request``, and
    :class:`~llmopt.errors.NoHealthyEntry` when no entry answered.
    """

    def __init__(
        self,
        chain: Sequence[tuple[str, BaseChatModel]],
        *,
        board: CircuitBoard | None = None,
        stored_response: StoredResponse | None = None,
        without_retries: Callable[[str], BaseChatModel | None] | None = None,
        gate: Callable[[str], str | None] | None = None,
        max_retries: int = 2,
        backoff: Backoff = DEFAULT_BACKOFF,
        fail_over_on_refusal: bool = True,
        sleep: Callable[[float], object] = time.sleep,
        asleep: Callable[[float], Any] = asyncio.sleep,
        rng: random.Random | None = None,
        timer: Callable[[], float] = time.perf_counter,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not chain:
            raise ValueError("a fallback chain needs at least one entry")
        keys = [key for key, _ in chain]
        if len(set(keys)) != len(keys):
            raise ValueError(f"entry keys must differ in a fallback chain: {keys}")
        self.chain: tuple[tuple[str, BaseChatModel], ...] = tuple(chain)
        self.board = board
        self.stored_response = stored_response
        self.without_retries = without_retries
        self.gate = gate
        self.max_retries = max_retries
        self.backoff = backoff
        self.fail_over_on_refusal = fail_over_on_refusal
        self._sleep = sleep
        self._asleep = asleep
        self._rng = rng or random.Random()
        self._timer = timer
        self._clock = clock

    # -- calls ------------------------------------------------------------------------

    def invoke(
        self, messages: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        """The first healthy entry's answer to ``messages`` (as ``BaseChatModel.invoke``)."""
        return self._invoke(_Run(self), self.chain, messages, config, kwargs)

    async def ainvoke(
        self, messages: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        """The async :meth:`invoke`."""
        return await self._ainvoke(_Run(self), self.chain, messages, config, kwargs)

    def stream(
        self, messages: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[BaseMessageChunk]:
        """The first healthy entry's chunks; fails over only before the first chunk."""
        run = _Run(self)
        for index, (key, model) in enumerate(self.chain):
            if not run.allow(key):
                continue
            model, _ = self._attempt(self.chain, index)
            iterator = iter(model.stream(messages, config, **kwargs))
            try:
                first: BaseMessageChunk | None = next(iterator)
            except StopIteration:
                first = None
            except Exception as exc:
                run.failed(key, exc)
                continue
            yield from run.committed(key, first, iterator)
            return
        yield _as_chunk(run.nothing_left(messages))

    async def astream(
        self, messages: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[BaseMessageChunk]:
        """The async :meth:`stream`."""
        run = _Run(self)
        for index, (key, model) in enumerate(self.chain):
            if not run.allow(key):
                continue
            model, _ = self._attempt(self.chain, index)
            iterator = aiter(model.astream(messages, config, **kwargs))
            try:
                first: BaseMessageChunk | None = await anext(iterator)
            except StopAsyncIteration:
                first = None
            except Exception as exc:
                run.failed(key, exc)
                continue
            async for chunk in run.acommitted(key, first, iterator):
                yield chunk
            return
        yield _as_chunk(run.nothing_left(messages))

    # -- the design document's names ------------------------------------------------------

    def handle_failure(
        self,
        primary_llm: str | BaseChatModel,
        error: BaseException,
        *,
        messages: LanguageModelInput,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> BaseMessage:
        """The fallback answer after ``primary_llm`` (an entry key or model of the chain)
        failed with ``error`` on ``messages``: records the failure, then tries the entries
        after it as :meth:`invoke` does. Re-raises ``error`` when its class does not fail
        over; raises :class:`~llmopt.errors.NoHealthyEntry` when nothing answers."""
        index = self._index(primary_llm)
        run = _Run(self)
        key = self.chain[index][0]
        if not isinstance(error, Exception):
            raise error
        run.failed(key, error)
        return self._invoke(run, self.chain[index + 1 :], messages, config, kwargs)

    def retry_with_backoff(
        self, llm: str | BaseChatModel, request: LanguageModelInput, max_retries: int
    ) -> BaseMessage:
        """``llm.invoke(request)``, retried up to ``max_retries`` times on retryable
        errors with exponential backoff and full jitter (``retry-after`` honoured).

        Only this one entry is called; raises its last error. Meant for clients without
        retries of their own: the anthropic and openai SDKs retry already."""
        model = self.chain[self._index(llm)][1] if isinstance(llm, str) else llm
        return retry_with_backoff(
            lambda: model.invoke(request),
            max_retries=max_retries,
            backoff=self.backoff,
            sleep=self._sleep,
            rng=self._rng,
        )

    def circuit_breaker_status(self, model: str | BaseChatModel) -> CircuitRecord:
        """The circuit of ``model`` (an entry key or model of the chain) as this process
        sees it; always closed without a board."""
        key = self.chain[self._index(model)][0]
        if self.board is None:
            return CircuitRecord(entry_key=key, state=CircuitState.CLOSED, updated_at=self._clock())
        return self.board.status(key)

    def trigger_fallback(self, model: str | BaseChatModel) -> tuple[str, BaseChatModel]:
        """The entry to use instead of ``model``: the next one in the chain whose circuit
        lets calls through now (nothing is used up). Raises
        :class:`~llmopt.errors.NoHealthyEntry` when there is none."""
        tried: list[tuple[str, str]] = []
        for key, candidate in self.chain[self._index(model) + 1 :]:
            if self.board is None or self.board.would_allow(key):
                return key, candidate
            tried.append((key, f"skipped: {self.board.why_refused(key)}"))
        raise NoHealthyEntry(tried)

    def report_incident(self, incident_data: IncidentRecord | Mapping[str, Any]) -> bool:
        """Record one incident now (``at`` defaults to now); True when the store took it.

        Never raises for a store failure (it is logged); raises pydantic's
        ``ValidationError`` for incident data that is not an incident.
        """
        if isinstance(incident_data, IncidentRecord):
            record = incident_data
        else:
            record = IncidentRecord.model_validate({"at": self._clock(), **incident_data})
        if self.board is None:
            logger.warning("incident not recorded (no circuit board): %s", record)
            return False
        try:
            self.board.store.add_incidents([record])
        except Exception as exc:
            logger.warning("incident not recorded, the store refused it: %s", exc)
            return False
        return True

    # -- internals ----------------------------------------------------------------------

    def _invoke(
        self,
        run: _Run,
        entries: Sequence[tuple[str, BaseChatModel]],
        messages: LanguageModelInput,
        config: RunnableConfig | None,
        kwargs: dict[str, Any],
    ) -> BaseMessage:
        for index, (key, _) in enumerate(entries):
            if not run.allow(key):
                continue
            model, retries = self._attempt(entries, index)
            try:
                if retries:
                    answer: BaseMessage = retry_with_backoff(
                        lambda m=model: m.invoke(messages, config, **kwargs),  # type: ignore[misc]
                        max_retries=retries,
                        backoff=self.backoff,
                        sleep=self._sleep,
                        rng=self._rng,
                    )
                else:
                    answer = model.invoke(messages, config, **kwargs)
            except Exception as exc:
                run.failed(key, exc)
                continue
            if run.answered(key, answer, last=index == len(entries) - 1):
                return answer
        return run.nothing_left(messages)

    async def _ainvoke(
        self,
        run: _Run,
        entries: Sequence[tuple[str, BaseChatModel]],
        messages: LanguageModelInput,
        config: RunnableConfig | None,
        kwargs: dict[str, Any],
    ) -> BaseMessage:
        for index, (key, _) in enumerate(entries):
            if not run.allow(key):
                continue
            model, retries = self._attempt(entries, index)
            try:
                if retries:
                    answer: BaseMessage = await aretry_with_backoff(
                        lambda m=model: m.ainvoke(messages, config, **kwargs),  # type: ignore[misc]
                        max_retries=retries,
                        backoff=self.backoff,
                        sleep=self._asleep,
                        rng=self._rng,
                    )
                else:
                    answer = await model.ainvoke(messages, config, **kwargs)
            except Exception as exc:
                run.failed(key, exc)
                continue
            if run.answered(key, answer, last=index == len(entries) - 1):
                return answer
        return run.nothing_left(messages)

    def _attempt(
        self, entries: Sequence[tuple[str, BaseChatModel]], index: int
    ) -> tuple[BaseChatModel, int]:
        """The model to call for ``entries[index]`` and the handler's own retries of it:
        once and without retries while a later entry is ready to take over."""
        key, model = entries[index]
        board = self.board
        if not any(board is None or board.would_allow(k) for k, _ in entries[index + 1 :]):
            return model, self._retries_for(model)
        quick = self.without_retries(key) if self.without_retries is not None else None
        return (model if quick is None else quick), 0

    def _retries_for(self, model: BaseChatModel) -> int:
        has_own = "max_retries" in type(model).model_fields
        return 0 if has_own else self.max_retries

    def _index(self, model: str | BaseChatModel) -> int:
        for index, (key, candidate) in enumerate(self.chain):
            if model == key if isinstance(model, str) else model is candidate:
                return index
        raise KeyError(f"{model!r} is not an entry of this fallback chain")


class _Run:
    """One call's way through the chain: what was skipped, failed or refused, and when."""

    def __init__(self, handler: FailoverHandler) -> None:
        self.handler = handler
        self.board = handler.board
        self.attempts: list[Attempt] = []
        self.started = handler._timer()
        self.first_failure: float | None = None
        self.refusal: tuple[str, BaseMessage] | None = None
        self.last_error: BaseException | None = None

    def allow(self, key: str) -> bool:
        gate = self.handler.gate
        reason = None if gate is None else gate(key)
        if reason is not None:
            self.attempts.append(Attempt(key, "skipped", detail=reason))
            return False
        if self.board is None or self.board.allow(key):
            return True
        self.attempts.append(Attempt(key, "skipped", detail=self.board.why_refused(key)))
        return False

    def failed(self, key: str, exc: Exception) -> None:
        """Record ``exc``; re-raise it when its class does not fail over."""
        error_class = classify_error(exc)
        detail = _detail(exc)
        if self.board is not None:
            self.board.record_failure(
                key, error_class, detail=detail, retry_after=retry_after_of(exc)
            )
        if not error_class.fails_over:
            raise exc
        logger.warning("entry %s failed (%s), failing over: %s", key, error_class, detail)
        if self.first_failure is None:
            self.first_failure = self.handler._timer()
        self.attempts.append(Attempt(key, "failed", error_class, detail))
        self.last_error = exc

    def answered(self, key: str, answer: BaseMessage, *, last: bool) -> bool:
        """Record an answer; False when it is a refusal to fail over from."""
        if self.board is not None:
            self.board.record_success(key)  # a refusal too: the entry is healthy
        refused = classify_response(answer)
        if refused is not None and self.handler.fail_over_on_refusal and not last:
            if self.refusal is None:
                self.refusal = (key, answer)
            self.attempts.append(Attempt(key, "refused", refused, "the answer was a refusal"))
            return False
        self.finish(key, answer)
        return True

    def committed(
        self, key: str, first: BaseMessageChunk | None, rest: Iterator[BaseMessageChunk]
    ) -> Iterator[BaseMessageChunk]:
        failed = False
        try:
            if first is not None:
                self._annotate(first, key)
                yield first
            yield from rest
        except Exception as exc:
            failed = True
            self._record_stream_failure(key, exc)
            raise
        finally:
            if not failed:
                self._succeeded(key)

    async def acommitted(
        self, key: str, first: BaseMessageChunk | None, rest: AsyncIterator[BaseMessageChunk]
    ) -> AsyncIterator[BaseMessageChunk]:
        failed = False
        try:
            if first is not None:
                self._annotate(first, key)
                yield first
            async for chunk in rest:
                yield chunk
        except Exception as exc:
            failed = True
            self._record_stream_failure(key, exc)
            raise
        finally:
            if not failed:
                self._succeeded(key)

    def nothing_left(self, messages: LanguageModelInput) -> BaseMessage:
        """The refusal kept aside, a stored response, or :class:`NoHealthyEntry`."""
        if self.refusal is not None:
            key, answer = self.refusal
            self.finish(key, answer)
            return answer
        stored = self._stored(messages)
        if stored is not None:
            self._annotate(stored, None, stored=True)
            return stored
        error = NoHealthyEntry((a.entry_key, a.why()) for a in self.attempts)
        raise error from self.last_error

    def finish(self, key: str, answer: BaseMessage) -> None:
        self._annotate(answer, key)
        self._report_failover(key)

    def _succeeded(self, key: str) -> None:
        if self.board is not None:
            self.board.record_success(key)
        self._report_failover(key)

    def _record_stream_failure(self, key: str, exc: Exception) -> None:
        error_class = classify_error(exc)
        logger.warning(
            "entry %s failed mid-stream (%s); no failover after the first chunk", key, error_class
        )
        if self.board is not None:
            self.board.record_failure(
                key, error_class, detail=_detail(exc), retry_after=retry_after_of(exc)
            )

    def _stored(self, messages: LanguageModelInput) -> AIMessage | None:
        hook = self.handler.stored_response
        if hook is None:
            return None
        try:
            return hook(messages)
        except Exception:
            logger.exception("the stored_response hook failed; treating it as no answer")
            return None

    def _annotate(self, message: BaseMessage, key: str | None, *, stored: bool = False) -> None:
        now = self.handler._timer()
        message.response_metadata[METADATA_KEY] = {
            "entry": key,
            "attempts": [attempt.to_dict() for attempt in self.attempts],
            "failover_seconds": None if self.first_failure is None else now - self.first_failure,
            "elapsed_seconds": now - self.started,
            "stored_response": stored,
        }

    def _report_failover(self, key: str) -> None:
        failures = [a for a in self.attempts if a.outcome == "failed"]
        if self.board is None or not failures:
            return
        first = failures[0]
        elapsed = 0.0 if self.first_failure is None else self.handler._timer() - self.first_failure
        self.board.report(
            IncidentRecord(
                at=self.handler._clock(),
                entry_key=first.entry_key,
                kind=KIND_FAILOVER,
                error_class=None if first.error_class is None else str(first.error_class),
                to_entry=key,
                detail=(
                    f"{', '.join(f'{a.entry_key} ({a.error_class})' for a in failures)} failed; "
                    f"{key} answered {elapsed:.3f} s after the first failure"
                ),
            )
        )


def _detail(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _as_chunk(message: BaseMessage) -> BaseMessageChunk:
    if isinstance(message, BaseMessageChunk):
        return message
    return AIMessageChunk(
        content=message.content,
        additional_kwargs=dict(message.additional_kwargs),
        response_metadata=dict(message.response_metadata),
        id=message.id,
    )
