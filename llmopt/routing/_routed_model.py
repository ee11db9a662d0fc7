"""``RoutedChatModel``: a LangChain chat model that routes every call, fails over and
keeps budgets. Build it with :func:`get_routed_model`.

Per call: read the document and the kill switch from the process's watcher (no I/O);
with the kill switch engaged, call the caller's own entry bare; with routing off, call
it as ``get_generator_model`` would. Otherwise profile the request, let
:class:`LLMRouter` choose, reserve the estimate from the budgets (a ``route_cheaper``
budget at its limit moves the call to the cheapest eligible entry; a ``refuse`` one
raises :class:`~llmopt.errors.BudgetExceeded`), call through
:class:`~llmopt.failover.FailoverHandler` along the decision's chain, settle the
budgets with the reported usage, and record the decision and the outcome. Every
answer's ``response_metadata["llmopt_route"]`` says which entry served it and why.

An entry with an orchestration strategy (``configuration.orchestration``) is called
through its :class:`~llmopt.orchestration.OrchestratedChatModel`. With the document's
``quality`` monitoring on, a share of requests is drawn into its A/B tests (the arm's
entry first in the chain) and answers are handed to the quality tracker to be scored in
the background. The kill switch turns both off.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict, Field, PrivateAttr

from llmopt.config import AIConfigDocument
from llmopt.errors import BudgetExceeded, LLMOptError, NoEligibleEntry
from llmopt.failover import (
    METADATA_KEY,
    CircuitBoard,
    FailoverHandler,
    circuit_board_for,
    classify_error,
)
from llmopt.orchestration._chat_model import ORCHESTRATION_KEY, OrchestratedChatModel
from llmopt.orchestration._settings import OrchestrationSettings, orchestration_of
from llmopt.providers import TokenUsage, cost_of
from llmopt.quality._metrics import draw_arm
from llmopt.quality._settings import QUALITY, ABTest, QualitySettings
from llmopt.quality._tracker import quality_tracker_for
from llmopt.store import Store
from llmopt.tokens import BudgetGuard, BudgetSettings
from llmopt.tokens._budget_guard import Admission
from llmopt.wrapper import get_generator_model
from llmopt.wrapper._factory import build_base_model
from llmopt.wrapper._watcher import watcher_for

from ._candidates import Candidate, candidates_of
from ._profile import RequestProfile, profile_request
from ._router import LLMRouter, RouteDecision
from ._settings import RoutingSettings
from ._telemetry import RouteTelemetry, telemetry_for

logger = logging.getLogger("llmopt.routing")

ROUTE_KEY = "llmopt_route"
_FIRST_READ_SECONDS = 10.0
BUDGETS = "budgets"
_TOOLS = "_llmopt_tools"


@dataclass
class _Revision:
    """Everything built from one revision of the document."""

    document: AIConfigDocument
    settings: RoutingSettings
    candidates: dict[str, Candidate]
    router: LLMRouter
    guard: BudgetGuard | None
    board: CircuitBoard
    telemetry: RouteTelemetry
    quality: QualitySettings = field(default_factory=QualitySettings)
    orchestration: dict[str, OrchestrationSettings] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    # (entry key, bare, without client retries, orchestrated) -> the model built for it
    models: dict[tuple[str, bool, bool, bool], BaseChatModel] = field(default_factory=dict)
    scorer: Any = None


class RoutedChatModel(BaseChatModel):
    """A chat model that routes each call to an ``llm`` entry; see the module docstring.

    ``default_entry`` is the caller's own entry (the document's ``isDefault`` one when
    unset): what is called when routing is off or the kill switch is engaged. ``task``
    and ``privacy`` apply to every call unless a call passes its own (``task=...``,
    ``privacy="local"`` keyword arguments, or ``llmopt_task``/``llmopt_privacy`` in the
    run's metadata).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Store = Field(exclude=True)
    default_entry: str | None = None
    task: str | None = None
    privacy: str | None = None

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _revision: _Revision | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llmopt-routed"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"default_entry": self.default_entry, "task": self.task, "privacy": self.privacy}

    def close(self) -> None:
        """Close the HTTP clients of the models this router built (ChatOllama never
        closes its own). The model stays usable: later calls build new ones."""
        with self._lock:
            revision, self._revision = self._revision, None
        if revision is None:
            return
        for model in revision.models.values():
            _close_clients(model)
        if revision.guard is not None:
            revision.guard.close()

    # -- tools and structured output ---------------------------------------------------

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind ``tools`` for every entry: each chosen model formats them its own way."""
        options = dict(kwargs)
        if tool_choice is not None:
            options["tool_choice"] = tool_choice
        return self.bind(**{_TOOLS: (list(tools), options)})

    # -- calls ----------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._prepare(messages, stop, kwargs, run_manager.metadata if run_manager else {})
        try:
            answer = call.handler.invoke(messages, **call.kwargs)
        except Exception as exc:
            call.failed(exc)
            raise
        call.answered(answer)
        return ChatResult(generations=[ChatGeneration(message=answer)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._prepare(messages, stop, kwargs, run_manager.metadata if run_manager else {})
        try:
            answer = await call.handler.ainvoke(messages, **call.kwargs)
        except Exception as exc:
            call.failed(exc)
            raise
        call.answered(answer)
        return ChatResult(generations=[ChatGeneration(message=answer)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs, run_manager.metadata if run_manager else {})
        try:
            for chunk in call.handler.stream(messages, **call.kwargs):
                yield call.chunk(chunk)
        except Exception as exc:
            call.failed(exc)
            raise
        call.streamed()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs, run_manager.metadata if run_manager else {})
        try:
            async for chunk in call.handler.astream(messages, **call.kwargs):
                yield call.chunk(chunk)
        except Exception as exc:
            call.failed(exc)
            raise
        call.streamed()

    # -- routing --------------------------------------------------------------------------

    def _prepare(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        metadata: Mapping[str, Any],
    ) -> _Call:
        kwargs = dict(kwargs)
        tools = kwargs.pop(_TOOLS, None)
        task = kwargs.pop("task", None) or metadata.get("llmopt_task") or self.task
        privacy = kwargs.pop("privacy", None) or metadata.get("llmopt_privacy") or self.privacy
        if stop is not None:
            kwargs["stop"] = stop
        watcher = watcher_for(self.store)
        snapshot = watcher.snapshot
        if snapshot.document is None and self._revision is None:
            # A new process: routing cannot choose before the watcher's first read.
            watcher.wait_for(lambda s: s.read_at != 0.0, timeout=_FIRST_READ_SECONDS)
            snapshot = watcher.snapshot
        revision = self._current(snapshot.document, snapshot.problem)
        own = self._own_entry(revision)
        if snapshot.kill_switch_engaged or not snapshot.available:
            # The kill switch turns routing off too: the caller's own model, bare.
            model = self._model(revision, own, bare=True, tools=tools)
            return _Call(revision, None, [(own, model)], kwargs, None, None, direct=True)
        arm = _ab_arm(revision, messages, metadata)
        if not revision.settings.enabled:
            if arm is not None:
                own = arm[1]
            model = self._model(revision, own, bare=False, tools=tools)
            call = _Call(revision, None, [(own, model)], kwargs, None, None, direct=True)
            return call.observed(messages, arm)
        probe = dict(kwargs)
        if tools is not None:
            probe["tools"] = tools[0]
            probe.update(tools[1])
        profile = profile_request(
            messages,
            probe,
            task=task,
            privacy=privacy,
            expected_output_tokens=revision.settings.expected_output_tokens,
        )
        decision = revision.router.route(profile)

        def without_retries(key: str) -> Any:
            return self._model(revision, key, bare=False, tools=tools, quick=True)

        if decision.entry_key is None:
            excluded = [(c.entry, c.excluded or "") for c in decision.candidates]
            if all(why.startswith("circuit") for _, why in excluded) and excluded:
                chain = [
                    (k, self._model(revision, k, bare=False, tools=tools)) for k, _ in excluded
                ]
                return _Call(revision, decision, chain, kwargs, None, without_retries)
            raise NoEligibleEntry(decision.reason, excluded)
        if arm is not None:
            decision, arm = _into_arm(decision, arm)
        admission = None
        if revision.guard is not None:
            decision, admission = self._admit(revision, decision)
        chain = [(k, self._model(revision, k, bare=False, tools=tools)) for k in decision.chain]
        call = _Call(revision, decision, chain, kwargs, admission, without_retries)
        return call.observed(messages, arm)

    def _admit(
        self, revision: _Revision, decision: RouteDecision
    ) -> tuple[RouteDecision, Admission]:
        guard = revision.guard
        assert guard is not None and decision.entry_key is not None
        profile = decision.profile
        usd, tokens = _estimate(revision, decision.entry_key, profile)
        admission = guard.admit(decision.entry_key, usd=usd, tokens=tokens)
        if not admission.route_cheaper:
            return decision, admission
        estimates = {k: _estimate(revision, k, profile) for k in decision.chain}
        costs = {k: usd for k, (usd, _) in estimates.items()}
        cheapest = min(decision.chain, key=lambda k: (costs[k] is None, costs[k] or 0.0))
        if cheapest == decision.entry_key:
            return decision, admission
        guard.release(admission)
        chain = (cheapest, *(k for k in decision.chain if k != cheapest))
        reason = (
            f"{cheapest}: budget {', '.join(admission.route_cheaper)} at its limit, "
            f"so the cheapest eligible entry instead of {decision.entry_key}"
        )
        moved = RouteDecision(
            cheapest, chain, reason, profile, decision.rules, decision.candidates, decision.at
        )
        usd, tokens = estimates[cheapest]
        return moved, guard.admit(cheapest, usd=usd, tokens=tokens)

    def _current(self, document: AIConfigDocument | None, problem: str | None) -> _Revision:
        with self._lock:
            revision = self._revision
            if document is None:
                if revision is None:
                    raise LLMOptError(
                        "routing: the configuration could not be read from the store"
                        + (f": {problem}" if problem else "")
                    )
                return revision
            if revision is not None and revision.document.revision == document.revision:
                return revision
            revision = self._revision = _build(self.store, document, previous=revision)
            return revision

    def _own_entry(self, revision: _Revision) -> str:
        if self.default_entry is not None:
            return self.default_entry
        entries = revision.document.entries
        default = next((e for e in entries if e.is_default), entries[0] if entries else None)
        if default is None:
            raise NoEligibleEntry("routing: the configuration has no llm entries")
        return default.key

    def _model(
        self,
        revision: _Revision,
        key: str,
        *,
        bare: bool,
        tools: Any,
        quick: bool = False,
        alone: bool = False,
    ) -> Any:
        """Entry ``key``'s model, built once per revision. ``quick``: with its client's
        retries off, for an attempt that a ready backup follows (``None`` when its client
        has no retries to turn off). An entry with an orchestration strategy is its
        :class:`OrchestratedChatModel` unless ``bare`` or ``alone`` (a strategy's own
        calls: never orchestrated again)."""
        strategy = None if bare or alone else revision.orchestration.get(key)
        if strategy is not None and quick:
            return None  # several clients: their retries stay as they are
        model = revision.models.get((key, bare, quick, strategy is not None))
        if model is None and strategy is not None:
            model = OrchestratedChatModel(
                entry_key=key,
                settings=strategy,
                models={
                    k: self._model(revision, k, bare=False, tools=None, alone=True)
                    for k in strategy.entries
                },
                scorer=_scorer(revision),
            )
            revision.models[(key, bare, quick, True)] = model
        if model is None:
            entry = revision.document.entry(key)
            provider = entry.provider or ""
            item = entry.as_item()
            if quick:
                plain = self._model(revision, key, bare=bare, tools=None, alone=True)
                if "max_retries" not in type(getattr(plain, "base_model", plain)).model_fields:
                    return None
                item = {**item, "configuration": {**(entry.configuration or {}), "maxRetries": 0}}
            if bare:
                model = build_base_model(provider, item["configuration"] or {})
            else:
                model = get_generator_model(provider, item, store=self.store, entry_key=key)
            revision.models[(key, bare, quick, False)] = model
        if tools is None:
            return model
        return model.bind_tools(tools[0], **tools[1])


def _ab_arm(
    revision: _Revision, messages: Sequence[BaseMessage], metadata: Mapping[str, Any]
) -> tuple[ABTest, str] | None:
    """The A/B test and entry this request is drawn into, if any (monitoring on).

    The draw hashes the run's ``llmopt_ab_key`` metadata (a user's id keeps each user
    in one arm) or, without one, the request's messages."""
    quality = revision.quality
    tests = quality.running_tests() if quality.enabled else ()
    if not tests:
        return None
    key = metadata.get("llmopt_ab_key")
    if not isinstance(key, str) or not key:
        key = "\x1f".join(f"{m.type}:{m.content!r}" for m in messages)
    return draw_arm(tests, key)


def _into_arm(
    decision: RouteDecision, arm: tuple[ABTest, str]
) -> tuple[RouteDecision, tuple[ABTest, str] | None]:
    """``decision`` sent to the arm's entry first, when the router found it eligible for
    this request; otherwise unchanged and the request is not part of the test."""
    test, entry = arm
    if entry not in decision.chain:
        return decision, None
    if entry == decision.entry_key:
        return decision, arm
    chain = (entry, *(k for k in decision.chain if k != entry))
    reason = f"{entry}: A/B test {test.name!r} (instead of {decision.entry_key})"
    moved = RouteDecision(
        entry, chain, reason, decision.profile, decision.rules, decision.candidates, decision.at
    )
    return moved, arm


def _scorer(revision: _Revision) -> Any:
    """The cascade's scorer for this revision: the quality monitor's cheap checks, with
    the document's weights (built once, on the first orchestrated entry)."""
    if revision.scorer is None:
        from llmopt.quality import LLMQualityMonitor

        monitor = LLMQualityMonitor(weights=revision.quality.check_weights)
        revision.scorer = monitor.as_scorer()
    return revision.scorer


def _stored(
    chain: Sequence[tuple[str, Any]], messages: Any, kwargs: Mapping[str, Any]
) -> AIMessage | None:
    """During an outage with nothing healthy left: an answer the response cache kept for
    this request from any entry of the chain that opted in (see ``llmopt.responses``)."""
    from llmopt.wrapper import OptimizedLLMWrapper
    from llmopt.wrapper._responses import lookup

    if not isinstance(messages, list):
        return None
    for _, model in chain:
        wrapper = getattr(model, "bound", model)  # a model with tools bound
        if not isinstance(wrapper, OptimizedLLMWrapper):
            continue
        found = lookup(wrapper, messages, kwargs.get("stop"), kwargs)
        if found is not None and found.hit is not None:
            return found.hit.message
    return None


def _estimate(revision: _Revision, key: str, profile: RequestProfile) -> tuple[float | None, int]:
    """What a call of entry ``key`` is expected to cost: (USD, or None unpriced; tokens)."""
    candidate = revision.candidates.get(key)
    if candidate is None:
        return None, profile.tokens + profile.output_tokens
    return (
        candidate.estimated_cost(profile.tokens, profile.output_tokens),
        candidate.estimated_tokens(profile.tokens, profile.output_tokens),
    )


def _close_clients(model: Any) -> None:
    """Close the sync clients of a ChatOllama, which never closes its own.

    Only Ollama's: ChatAnthropic and ChatOpenAI share one cached HTTP client per base URL
    and timeout across every model of the process, so closing theirs would break any
    other model (or a later one on the same address) that uses it."""
    model = getattr(model, "base_model", model)  # an OptimizedLLMWrapper's own model
    if not type(model).__module__.startswith("langchain_ollama"):
        return
    for name in ("_client", "root_client", "client"):
        client = getattr(model, name, None)
        inner = getattr(client, "_client", client)  # ollama.Client wraps an httpx client
        close = getattr(inner, "close", None)
        if callable(close) and not inspect.iscoroutinefunction(close):
            try:
                close()
            except Exception:  # closing is best effort; a half-built client must not stop it
                logger.debug("could not close %s of %s", name, type(model).__name__)


def _build(store: Store, document: AIConfigDocument, *, previous: _Revision | None) -> _Revision:
    candidates, skipped = candidates_of(document)
    keys = [c.key for c in candidates]
    problems = list(skipped)
    try:
        settings = RoutingSettings.from_dict(document.body.get("routing"), entry_keys=keys)
    except LLMOptError as exc:
        problems.append(f"routing settings invalid, routing off: {exc}")
        logger.warning("routing settings invalid, routing off until fixed: %s", exc)
        settings = RoutingSettings()
    guard = None
    raw_budgets = document.body.get(BUDGETS)
    if raw_budgets:
        try:
            budgets = BudgetSettings.load_list(raw_budgets)
        except LLMOptError as exc:
            problems.append(f"budgets invalid, not applied: {exc}")
            logger.warning("budgets invalid, not applied until fixed: %s", exc)
        else:
            guard = BudgetGuard(store, budgets)
    quality, orchestration = _quality_and_orchestration(document, problems)
    board = circuit_board_for(store, settings.circuit_breaker.model_dump(by_alias=True))
    telemetry = telemetry_for(store)
    router = LLMRouter(
        candidates,
        settings,
        availability=lambda key: None if board.routable(key) else board.why_refused(key),
        performance=telemetry.performance,
    )
    if previous is not None and previous.guard is not None:
        previous.guard.close()
    return _Revision(
        document,
        settings,
        {c.key: c for c in candidates},
        router,
        guard,
        board,
        telemetry,
        quality,
        orchestration,
        tuple(problems),
    )


def _quality_and_orchestration(
    document: AIConfigDocument, problems: list[str]
) -> tuple[QualitySettings, dict[str, OrchestrationSettings]]:
    """The ``quality`` object and each entry's strategy; an invalid one is reported and
    left out (monitoring off, the entry answering alone) until it is fixed."""
    keys = [entry.key for entry in document.entries]
    try:
        quality = QualitySettings.from_dict(document.body.get(QUALITY), entry_keys=keys)
    except LLMOptError as exc:
        problems.append(f"quality settings invalid, monitoring off: {exc}")
        logger.warning("quality settings invalid, monitoring off until fixed: %s", exc)
        quality = QualitySettings()
    orchestration: dict[str, OrchestrationSettings] = {}
    for entry in document.entries:
        try:
            found = orchestration_of(entry.configuration, key=entry.key, entry_keys=keys)
        except LLMOptError as exc:
            problems.append(f"{entry.key}: orchestration invalid, answering alone: {exc}")
            logger.warning("%s: orchestration invalid, answering alone: %s", entry.key, exc)
            continue
        if found.orchestrated:
            orchestration[entry.key] = found
    return quality, orchestration


class _Call:
    """One routed call: its chain, and what to record when it ends."""

    def __init__(
        self,
        revision: _Revision,
        decision: RouteDecision | None,
        chain: list[tuple[str, Any]],
        kwargs: dict[str, Any],
        admission: Admission | None,
        without_retries: Callable[[str], Any] | None,
        *,
        direct: bool = False,
    ) -> None:
        self.revision = revision
        self.decision = decision
        self.kwargs = kwargs
        # Each entry the call reaches reserves its own estimate; the one that answers is
        # charged, the others are given back.
        self.admissions: dict[str, Admission] = {}
        if admission is not None:
            self.admissions[admission.entry_key] = admission
        self.direct = direct
        self.telemetry: RouteTelemetry | None = None if direct else revision.telemetry
        board = None if direct else revision.board
        retries = 0 if direct else revision.settings.retry.max_retries
        self.handler = FailoverHandler(
            chain,
            board=board,
            stored_response=None if direct else lambda messages: _stored(chain, messages, kwargs),
            without_retries=without_retries,
            gate=None if admission is None else self._admit,
            max_retries=retries,
        )
        self.started = time.perf_counter()
        self.total: AIMessageChunk | None = None
        self.request: Sequence[BaseMessage] | None = None
        self.arm: tuple[ABTest, str] | None = None

    def observed(self, messages: Sequence[BaseMessage], arm: tuple[ABTest, str] | None) -> _Call:
        """Score this call's answer for quality monitoring, as part of ``arm``'s test."""
        self.request, self.arm = messages, arm
        return self

    def _admit(self, key: str) -> str | None:
        """Reserve a failover target's estimate from its budgets; the reason to skip it
        when a ``refuse`` budget of its own is spent."""
        guard = self.revision.guard
        if guard is None or key in self.admissions or self.decision is None:
            return None
        usd, tokens = _estimate(self.revision, key, self.decision.profile)
        try:
            self.admissions[key] = guard.admit(key, usd=usd, tokens=tokens)
        except BudgetExceeded as exc:
            return str(exc)
        return None

    def _settle(self, served: str | None, *, usd: float | None, tokens: int) -> None:
        guard = self.revision.guard
        if guard is None:
            return
        for key, admission in self.admissions.items():
            if key == served:
                guard.settle(admission, usd=usd, tokens=tokens)
            else:
                guard.release(admission)
        self.admissions.clear()

    def chunk(self, chunk: BaseMessageChunk) -> ChatGenerationChunk:
        """One streamed chunk, the first carrying the route; the chunks are summed."""
        if not isinstance(chunk, AIMessageChunk):
            chunk = AIMessageChunk(content=chunk.content)
        if self.total is None:
            self.annotate(chunk)
            self.total = chunk
        else:
            self.total = self.total + chunk
        return ChatGenerationChunk(message=chunk)

    def streamed(self) -> None:
        """The stream ended: record it as an answer."""
        if self.total is not None:
            self.answered(self.total, annotate=False)

    def annotate(self, message: BaseMessage) -> None:
        served = (message.response_metadata.get(METADATA_KEY) or {}).get("entry")
        if served is None and self.handler.chain:
            served = self.handler.chain[0][0]
        route: dict[str, Any] = {"entry": served, "routed": not self.direct}
        if self.decision is not None:
            route.update(self.decision.as_metadata())
            route["entry"] = served
            route["chosen"] = self.decision.entry_key
        else:
            route["reason"] = "routing is off" if self.direct else ""
        message.response_metadata[ROUTE_KEY] = route
        logger.debug("routed to %s: %s", served, route.get("reason"))

    def answered(self, answer: BaseMessage, *, annotate: bool = True) -> None:
        if annotate:
            self.annotate(answer)
        served = (answer.response_metadata.get(METADATA_KEY) or {}).get("entry")
        if served is None:
            served = (answer.response_metadata.get(ROUTE_KEY) or {}).get("entry")
        self._observe(answer, served)
        if self.direct:
            return
        usage = getattr(answer, "usage_metadata", None)
        cost: float | None = None
        tokens = 0
        candidate = self.revision.candidates.get(served or "")
        if usage and candidate is not None:
            tokens = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
            orchestrated = answer.response_metadata.get(ORCHESTRATION_KEY)
            if isinstance(orchestrated, Mapping):
                # Several models answered: what they cost together, as each was priced.
                total = orchestrated.get("totalCostUsd")
                cost = None if total is None else float(total)
            else:
                priced = cost_of(
                    TokenUsage.from_langchain(usage),
                    provider=candidate.provider,
                    model=candidate.model,
                )
                cost = None if priced is None else float(priced.total)
        elapsed_ms = (time.perf_counter() - self.started) * 1000.0
        self._record_attempts(answer)
        if self.telemetry is not None and served is not None:
            self.telemetry.called(
                served, latency_ms=elapsed_ms, error_class=None, cost_usd=cost, tokens=tokens
            )
            if self.decision is not None:
                self.telemetry.decided(self.decision, served=served)
        self._settle(served, usd=cost, tokens=tokens)

    def _observe(self, answer: BaseMessage, served: str | None) -> None:
        """Queue the answer for quality scoring (monitoring on; never the kill switch's
        bare calls, which never call ``observed``)."""
        if self.request is None or served is None or not self.revision.quality.enabled:
            return
        test = self.arm[0].name if self.arm is not None and self.arm[1] == served else ""
        metadata = answer.response_metadata
        candidate = self.revision.candidates.get(served)
        model = str(
            metadata.get("model_name")
            or metadata.get("model")
            or (candidate.model if candidate is not None else "")
        )
        quality_tracker_for(self.revision.telemetry.store).observe(
            served, model, self.request, answer, settings=self.revision.quality, test=test
        )

    def failed(self, exc: Exception) -> None:
        self._settle(None, usd=None, tokens=0)
        if self.telemetry is not None and self.decision is not None:
            entry = self.decision.entry_key or ""
            self.telemetry.called(
                entry,
                latency_ms=None,
                error_class=str(classify_error(exc)),
                cost_usd=None,
                tokens=0,
            )
            self.telemetry.decided(self.decision, served=None)

    def _record_attempts(self, answer: BaseMessage) -> None:
        if self.telemetry is None:
            return
        attempts = (answer.response_metadata.get(METADATA_KEY) or {}).get("attempts") or []
        for attempt in attempts:
            if attempt.get("outcome") == "failed":
                self.telemetry.called(
                    attempt["entry"],
                    latency_ms=None,
                    error_class=attempt.get("error_class") or "unknown",
                    cost_usd=None,
                    tokens=0,
                )


def get_routed_model(
    store: Store,
    *,
    default_entry: str | None = None,
    task: str | None = None,
    privacy: str | None = None,
) -> RoutedChatModel:
    """A chat model that routes each call among the document's ``llm`` entries.

    A drop-in like :func:`~llmopt.wrapper.get_generator_model`: invoke, stream, batch,
    tools and structured output behave as on a LangChain chat model. ``default_entry``
    is the entry called when routing is off (``routing.enabled`` false) or the kill
    switch is engaged (then bare, without optimization); by default the document's
    ``isDefault`` entry. ``task`` and ``privacy`` (``"local"``) apply to every call
    unless a call passes its own. The store's watcher is started on first use.

    Calls raise :class:`~llmopt.errors.NoEligibleEntry` when no entry can serve a
    request, :class:`~llmopt.errors.NoHealthyEntry` when every one that could failed
    or has an open circuit, :class:`~llmopt.errors.BudgetExceeded` when a ``refuse``
    budget is spent, and the provider's own error for an invalid request.
    """
    return RoutedChatModel(store=store, default_entry=default_entry, task=task, privacy=privacy)
