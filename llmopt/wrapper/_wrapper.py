"""``OptimizedLLMWrapper``: any LangChain chat model, plus prompt caching, fallback, kill switch."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
from langchain_anthropic import ChatAnthropic
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import get_config_list
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from llmopt.batching import AnthropicBatchClient, BatchRequest
from llmopt.batching._sync import LoopThread
from llmopt.caching import CacheManager, CachePlan, PrefixMemory, plan_breakpoints
from llmopt.config import OptimizationConfig
from llmopt.errors import ConfigError, FieldProblem
from llmopt.killswitch import env_switch
from llmopt.providers import ProviderCapabilities, TokenUsage
from llmopt.store import SQLiteStore, Store

from . import _anthropic, _responses
from ._batching import BatchDispatcher, BatchGroup, current_group, store_allows_batching
from ._learning import learning_for
from ._model_classes import provider_of, same_provider
from ._rebinding import call_on_base_class
from ._recorder import UsageRecorder, recorder_for
from ._stats import CacheStats, StatsCounter
from ._watcher import FlagWatcher, watcher_for

logger = logging.getLogger("llmopt.wrapper")

DEFERRABLE = "deferrable"
"""Call option: ``ainvoke(..., deferrable=True)`` lets a call under the ``auto`` strategy wait
for a Message Batch (up to ``batchTimeout`` to fill it, and the batch's own time)."""

# BaseChatModel settings that change how a call runs; the wrapper takes the base's
# unless given its own, so wrapping changes none of them.
_INHERITED = ("cache", "callbacks", "tags", "metadata", "rate_limiter", "disable_streaming")


class OptimizedLLMWrapper(BaseChatModel):
    """A drop-in for ``base_model`` that adds prompt caching, fallback and a kill switch.

    ::

        model = OptimizedLLMWrapper(ChatAnthropic(model="claude-sonnet-4-5"), "anthropic",
                                    {"optimizationEnabled": True, "cachingEnabled": True})
        model.invoke("...")            # as the base model would, with cache breakpoints

        # The migration guide's form: the provider is the base model's.
        model = OptimizedLLMWrapper(base_model, OptimizationConfig.from_dict(block))

    ``config`` is anything :meth:`OptimizationConfig.from_dict` reads (the entry's
    ``configuration``, a whole entry, the nested ``optimization`` block) or an
    :class:`~llmopt.config.OptimizationConfig`. ``provider`` may be left out: it is
    then the config's own (a block's ``provider``) or the base model's (``ChatAnthropic``
    is ``anthropic``, ``ChatOpenAI`` ``openAI`` ...); where those disagree it is a
    :class:`~llmopt.errors.ConfigError`, and a model whose provider cannot be told gets
    no optimization, with a logged reason. Wrapping a wrapper wraps its base model
    (one layer of optimization), keeping its store and entry.

    With a ``store``, the flags of ``entry_key`` (default ``provider:model``) are
    followed live and the kill switch applies: a background watcher re-reads them
    every second, calls never wait on the store, and while the store cannot be read
    the wrapper behaves as the bare model. Usage, cost and savings go to the store as
    per-minute roll-ups, in the background. ``LLM_OPTIMIZATION_ENABLED=false`` in the
    process's environment turns every wrapper in it bare (see
    :func:`~llmopt.killswitch.env_switch`).

    The design documents' names are here too: :attr:`capabilities`,
    :attr:`cache_manager`, :attr:`batch_client`, :attr:`is_optimized` and
    :meth:`get_cache_stats` (with ``cached_blocks``, ``total_content_blocks``,
    ``estimated_cached_tokens`` and ``cache_hit_potential``).

    Seams for tests: ``planner`` (where breakpoints are planned), ``batch_client_factory``
    (how the batch client is made) and :attr:`batch_dispatcher` (the pool batched calls
    wait in, to pool a request without a waiting call).

    Errors: a bad ``config`` raises :class:`~llmopt.errors.ConfigError`. At call time,
    an optimized request that fails because of the optimization (a 400 naming the
    cache markers, a planner error) or with a retryable error is retried once as the
    plain request when ``fallbackToStandard`` is on; every other error is the base
    model's, unchanged.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_model: BaseChatModel
    provider: str
    config: OptimizationConfig = Field(default_factory=OptimizationConfig)
    entry_key: str | None = None
    store: Store | None = Field(default=None, exclude=True)
    planner: Callable[..., CachePlan] = Field(default=plan_breakpoints, exclude=True)
    """Where breakpoints are planned; a seam for tests, defaults to ``plan_breakpoints``."""
    watcher: FlagWatcher | None = Field(default=None, exclude=True)
    """The live-flag watcher; defaults to the process's shared one for ``store``."""
    recorder: UsageRecorder | None = Field(default=None, exclude=True)
    """The usage recorder; defaults to the process's shared one for ``store``."""
    batch_options: dict[str, Any] = Field(default_factory=dict, exclude=True)
    """Keyword options for the :class:`~llmopt.batching.AnthropicBatchClient` (polling,
    deadline, limits); the defaults suit production."""
    batch_client_factory: Callable[..., AnthropicBatchClient] = Field(
        default=AnthropicBatchClient, exclude=True
    )
    """Makes the wrapper's batch client, called as ``AnthropicBatchClient`` is (the SDK
    client, the store, ``entry_key``, ``model``, ``fallback_to_standard`` and
    ``batch_options``); a seam for tests, defaults to the class."""

    prefix_memory: PrefixMemory = Field(default_factory=PrefixMemory, exclude=True)
    """What the cache planner remembers of recent prefixes and learns of their reuse.
    With a ``store``, the process's memory for ``entry_key``, shared with the other
    processes on that store (:func:`learning_for`); else the wrapper's own. Give one
    with its own ``clock`` to plan against a test clock."""

    _capabilities: ProviderCapabilities = PrivateAttr()
    _stats: StatsCounter = PrivateAttr(default_factory=StatsCounter)
    _dispatcher: BatchDispatcher | None = PrivateAttr(default=None)
    _dispatcher_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _own_batch_client: tuple[AnthropicBatchClient, anthropic.AsyncAnthropic] | None = PrivateAttr(
        default=None
    )

    def __init__(
        self,
        base_model: BaseChatModel | None = None,
        provider: str | OptimizationConfig | Mapping[str, Any] | None = None,
        config: OptimizationConfig | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if provider is not None and not isinstance(provider, str) and config is None:
            provider, config = None, provider  # the guide's OptimizedLLMWrapper(base, config)
        given = {"base_model": base_model, "provider": provider, "config": config, **kwargs}
        # Resolved here rather than in a validator, so a bad config raises ConfigError
        # itself instead of pydantic's ValidationError around it.
        super().__init__(**_resolve(given))

    @model_validator(mode="before")
    @classmethod
    def _read_config(cls, values: Any) -> Any:
        return _resolve(values) if isinstance(values, dict) else values

    @model_validator(mode="after")
    def _inherit_base_settings(self) -> OptimizedLLMWrapper:
        for name in _INHERITED:
            if name not in self.model_fields_set:
                object.__setattr__(self, name, getattr(self.base_model, name))
        if "name" not in self.model_fields_set:
            object.__setattr__(self, "name", self.base_model.get_name())
        self._capabilities = ProviderCapabilities.detect(self.provider, self.model_name)
        _log_what_applies(self)
        if self.entry_key is None:
            object.__setattr__(self, "entry_key", f"{self.provider}:{self.model_name}")
        if self.store is not None:
            if self.watcher is None:
                object.__setattr__(self, "watcher", watcher_for(self.store))
            if self.recorder is None:
                object.__setattr__(self, "recorder", recorder_for(self.store))
            if "prefix_memory" not in self.model_fields_set:
                assert self.entry_key is not None  # set above
                memory = learning_for(self.store).memory(self.entry_key)
                object.__setattr__(self, "prefix_memory", memory)
        return self

    # -- what LangChain asks of a chat model ------------------------------------

    @property
    def _llm_type(self) -> str:
        return self.base_model._llm_type

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return dict(self.base_model._identifying_params)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return self.base_model._get_ls_params(stop=stop, **kwargs)

    # -- the design documents' names ---------------------------------------------

    @property
    def capabilities(self) -> ProviderCapabilities:
        """What the provider and model offer (:meth:`ProviderCapabilities.detect`)."""
        return self._capabilities

    @property
    def is_optimized(self) -> bool:
        """Whether a call made now gets an optimization (caching or batching), all of the
        entry's flags, the kill switch, ``LLM_OPTIMIZATION_ENABLED`` and the provider's
        capabilities considered."""
        return self._caching_config() is not None or self._batching_config() is not None

    @property
    def cache_manager(self) -> CacheManager:
        """The planner as the design's ``CacheManager``, sharing this wrapper's memory of
        recent prefixes and its current flags; :meth:`CacheManager.add_cache_markers`
        takes a request payload or LangChain messages."""
        # A copy: the flags may be the watcher's, shared by every wrapper of the entry.
        return CacheManager(
            (self.active_config() or self.config).model_copy(),
            self.model_name,
            memory=self.prefix_memory,
            capabilities=self._capabilities,
        )

    @property
    def batch_client(self) -> AnthropicBatchClient | None:
        """An :class:`~llmopt.batching.AnthropicBatchClient` on this wrapper's provider
        account, store ledger and entry (made on first use, closed by :meth:`close`),
        or ``None`` when the model has no Batch API llmopt drives. Calls go through
        batches by themselves (``abatch``); use it for ``submit``/``resume``/``cancel``.
        After using it on your own event loop, ``await wrapper.batch_client.aclose()``."""
        if not self._capabilities.supports_batching or not _anthropic.is_anthropic(self.base_model):
            return None
        with self._dispatcher_lock:
            if self._own_batch_client is None:
                self._own_batch_client = self._make_batch_client()
            return self._own_batch_client[0]

    @property
    def model_name(self) -> str:
        """The wrapped model's name (``model`` or ``model_name`` of the base)."""
        name = getattr(self.base_model, "model", None) or getattr(
            self.base_model, "model_name", None
        )
        return str(name or "")

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        return self.base_model.get_num_tokens_from_messages(messages, tools=tools)

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """As the base model's ``bind_tools``, bound to this wrapper."""
        bound: Runnable[LanguageModelInput, AIMessage] = call_on_base_class(
            self.base_model, self, "bind_tools", tools, tool_choice=tool_choice, **kwargs
        )
        return bound

    def with_structured_output(
        self, schema: Any, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """As the base model's ``with_structured_output``, running through this wrapper."""
        structured: Runnable[LanguageModelInput, Any] = call_on_base_class(
            self.base_model,
            self,
            "with_structured_output",
            schema,
            include_raw=include_raw,
            **kwargs,
        )
        return structured

    def _should_stream(self, *, async_api: bool, **kwargs: Any) -> bool:
        return self.base_model._should_stream(async_api=async_api, **kwargs)

    # -- the live flags -----------------------------------------------------------

    def active_config(self) -> OptimizationConfig | None:
        """The flags that apply to a call made now, or ``None`` for "no optimization"."""
        if _env_turns_off():
            return None
        if self.watcher is None:
            config: OptimizationConfig | None = self.config
        else:
            snapshot = self.watcher.snapshot
            if not snapshot.available or snapshot.kill_switch_engaged:
                return None
            assert self.entry_key is not None
            config = snapshot.entries.get(self.entry_key, self.config)
        if config is None or not config.optimization_enabled:
            return None
        return config

    def _caching_config(self) -> OptimizationConfig | None:
        config = self.active_config()
        if (
            config is None
            or not config.applies_caching
            or not self._capabilities.supports_explicit_caching
            or not _anthropic.is_anthropic(self.base_model)
        ):
            return None
        return config

    def _plan(
        self, payload: dict[str, Any], config: OptimizationConfig
    ) -> tuple[CachePlan | None, bool]:
        """The plan (``None`` when planning failed), and whether planning failed."""
        try:
            model = str(payload.get("model") or self.model_name)
            plan = self.planner(
                payload,
                model=model,
                config=config,
                memory=self.prefix_memory,
                # A per-call model override may have another minimum prefix length.
                capabilities=self._capabilities if model == self.model_name else None,
            )
        except Exception:
            if not config.fallback_to_standard:
                raise
            # With fallback on, a planner bug costs savings, never the caller's answer.
            logger.exception("cache planning failed; sending the request without breakpoints")
            return None, True
        return plan, False

    def _prepare(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        config: OptimizationConfig,
        options: dict[str, Any],
        *,
        stream: bool = False,
    ) -> _OptimizedCall:
        model = self.base_model
        assert isinstance(model, ChatAnthropic)
        stream_usage = False
        if stream:
            stream_usage, options = _anthropic.stream_options(model, options)
        plain = _anthropic.build_payload(model, messages, stop, **options)
        plan, planner_failed = self._plan(plain, config)
        return _OptimizedCall(model, plain, plan, planner_failed, stream_usage)

    def _retry_plain(
        self, call: _OptimizedCall, error: BaseException, config: OptimizationConfig
    ) -> bool:
        """Whether a failed optimized request is sent again without optimization."""
        if not call.optimized or not config.fallback_to_standard:
            return False
        if not (_anthropic.caused_by_cache_markers(error) or _anthropic.is_retryable(error)):
            return False
        logger.log(
            logging.WARNING if config.log_fallbacks else logging.DEBUG,
            "Cache optimization failed, falling back to standard API (%s): %s",
            self.entry_key,
            error,
        )
        return True

    # -- batching -------------------------------------------------------------------

    def _batching_config(self) -> OptimizationConfig | None:
        config = self.active_config()
        if (
            config is None
            or not config.applies_batching
            or not self._capabilities.supports_batching
            or not _anthropic.is_anthropic(self.base_model)
        ):
            return None
        return config

    def _wants_batch(self, kwargs: dict[str, Any]) -> OptimizationConfig | None:
        """The flags when this call goes to the Batch API; pops the ``deferrable`` option."""
        deferrable = bool(kwargs.pop(DEFERRABLE, False))
        config = self._batching_config()
        if config is None:
            return None
        if (
            config.optimization_strategy == "batch_only"
            or deferrable
            or current_group.get() is not None
        ):
            return config
        return None

    @property
    def batch_dispatcher(self) -> BatchDispatcher:
        """The pool this wrapper's batched calls wait in (made on first use, closed by
        :meth:`close`). ``submit`` a :class:`~llmopt.batching.BatchRequest` to pool one as
        a call would, without a call waiting on it (tests pool requests this way)."""
        with self._dispatcher_lock:
            if self._dispatcher is None:
                self._dispatcher = BatchDispatcher(
                    self._make_batch_client, self._batch_settings, recheck=self._batching_still_on
                )
            return self._dispatcher

    def _batching_still_on(self) -> bool:
        """Batching as the store says right now, not as the watcher last read it."""
        if self._batching_config() is None:
            return False
        store = self.store
        if store is None and self.watcher is not None:
            store = self.watcher.store
        if store is None:
            return True
        assert self.entry_key is not None
        return store_allows_batching(store, self.entry_key, default=self.config)

    def _batch_settings(self) -> tuple[bool, int, float]:
        config = self._batching_config()
        if config is None:
            return False, 1, 0.0
        return True, config.batch_max_size, float(config.batch_timeout)

    def _make_batch_client(self) -> tuple[AnthropicBatchClient, anthropic.AsyncAnthropic]:
        model = self.base_model
        assert isinstance(model, ChatAnthropic)
        store = self.store
        if store is None:
            # Without a store the ledger lives in memory: batching works, crash-safety not.
            logger.info("%s: no store given, batch ledger kept in memory", self.entry_key)
            store = SQLiteStore(":memory:")
        assert self.entry_key is not None
        sdk = _anthropic.async_client(model)
        client = self.batch_client_factory(
            sdk,
            store,
            entry_key=self.entry_key,
            model=self.model_name,
            fallback_to_standard=self._fallback_to_standard,
            **self.batch_options,
        )
        return client, sdk

    def _fallback_to_standard(self) -> bool:
        """The live ``fallbackToStandard``, for batches already submitted. With no
        optimization now (the kill switch, the entry switched off), what a batch could
        not answer goes to the standard API: that is where every request goes then."""
        config = self.active_config()
        return True if config is None else config.fallback_to_standard

    def _batch_request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        config: OptimizationConfig,
        kwargs: dict[str, Any],
    ) -> tuple[BatchRequest, CachePlan | None]:
        model = self.base_model
        assert isinstance(model, ChatAnthropic)
        payload = _anthropic.build_payload(model, messages, stop, **kwargs)
        payload.pop("stream", None)
        plan = None
        if config.applies_caching and self._capabilities.supports_explicit_caching:
            # Plan every request of a batch alike (no memory) and prefer the 1 h TTL:
            # batches take longer than 5 minutes to reach the requests that would read.
            hour = config.model_copy(update={"cache_ttl": 3600})
            try:
                plan = self.planner(
                    payload, model=self.model_name, config=hour, capabilities=self._capabilities
                )
                payload = plan.payload
            except Exception:
                if not config.fallback_to_standard:
                    raise
                logger.exception("cache planning failed for a batch request; sending it plain")
        return BatchRequest(params=payload), plan

    def _from_outcome(
        self, outcome: Any, kwargs: dict[str, Any], plan: CachePlan | None
    ) -> ChatResult:
        if outcome.error is not None:
            self._account(None, optimized=True, error=True, plan=plan)
            raise outcome.error
        model = self.base_model
        assert isinstance(model, ChatAnthropic) and outcome.message is not None
        result = _anthropic.result_from_message(model, outcome.message, **kwargs)
        usage = TokenUsage.from_anthropic(outcome.message.get("usage") or {})
        self._account(
            usage,
            optimized=True,
            fallback=outcome.source == "standard",
            reused=outcome.source == "reused",  # paid for once already, not billed again
            plan=plan,
        )
        return result

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """As the base model's ``abatch``; with batching on, one Message Batch for all inputs.

        ``max_concurrency`` does not limit a batched call: all inputs go into the batch.
        """
        if not inputs or self._batching_config() is None:
            return await super().abatch(
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )
        configs = [{**c, "max_concurrency": None} for c in get_config_list(config, len(inputs))]
        token = current_group.set(BatchGroup(size=len(inputs)))
        try:
            return await super().abatch(
                inputs,
                configs,  # type: ignore[arg-type]
                return_exceptions=return_exceptions,
                **kwargs,
            )
        finally:
            current_group.reset(token)

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """As the base model's ``batch``; with batching on, one Message Batch for all inputs."""
        if not inputs or self._batching_config() is None:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        with LoopThread("llmopt-sync-batch") as loop_thread:  # a loop of its own, as asyncio.run
            return loop_thread.run(
                self.abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)
            )

    def close(self, timeout: float | None = None) -> None:
        """Submit pooled batch requests and wait for their batches (also done at exit).

        With a ``timeout`` (seconds), stop waiting then: batches still running are
        left in the store's ledger for the batch client's ``resume()`` (a Celery
        poller) to collect; their callers get ``TimeoutError``, and so does this call.
        Use it to stop a process without waiting for slow batches.
        """
        with self._dispatcher_lock:
            dispatcher, self._dispatcher = self._dispatcher, None
            own, self._own_batch_client = self._own_batch_client, None
        if own is not None:
            own[0].close()  # what run_sync set up; after async use, await aclose() yourself
        if dispatcher is not None:
            dispatcher.close(timeout)

    # -- calls ----------------------------------------------------------------------
    # Each asks the response cache first (see _responses), then calls as below.

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return _responses.generate(
            self,
            messages,
            stop,
            kwargs,
            lambda: self._generate_uncached(messages, stop, run_manager, **kwargs),
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await _responses.agenerate(
            self,
            messages,
            stop,
            kwargs,
            lambda: self._agenerate_uncached(messages, stop, run_manager, **kwargs),
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        return _responses.stream(
            self,
            messages,
            stop,
            kwargs,
            lambda: self._stream_uncached(messages, stop, run_manager, **kwargs),
        )

    def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        return _responses.astream(
            self,
            messages,
            stop,
            kwargs,
            lambda: self._astream_uncached(messages, stop, run_manager, **kwargs),
        )

    def _generate_uncached(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        batching = self._wants_batch(kwargs)
        if batching is not None:
            request, plan = self._batch_request(messages, stop, batching, kwargs)
            outcome = self.batch_dispatcher.submit(request).result()
            if outcome is not None:
                return self._from_outcome(outcome, kwargs, plan)
        config = self._caching_config()
        if config is None:
            try:
                result = self.base_model._generate(
                    messages, stop=stop, run_manager=run_manager, **kwargs
                )
            except Exception:
                self._account(None, optimized=False, error=True)
                raise
            self._account(_usage_of(result), optimized=False)
            return result
        call = self._prepare(messages, stop, config, kwargs)
        fallback = call.planner_failed
        try:
            result = _anthropic.generate(call.model, call.payload, **kwargs)
        except Exception as error:
            if not self._retry_plain(call, error, config):
                self._account(None, optimized=call.optimized, error=True, plan=call.plan)
                raise
            fallback = True
            try:
                result = _anthropic.generate(call.model, call.plain, **kwargs)
            except Exception:
                self._account(None, optimized=True, fallback=True, error=True, plan=call.plan)
                raise
        self._account(
            _usage_of(result), optimized=call.optimized, fallback=fallback, plan=call.plan
        )
        return result

    async def _agenerate_uncached(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        batching = self._wants_batch(kwargs)
        if batching is not None:
            request, plan = self._batch_request(messages, stop, batching, kwargs)
            outcome = await self.batch_dispatcher.asubmit(request)
            if outcome is not None:
                return self._from_outcome(outcome, kwargs, plan)
        config = self._caching_config()
        if config is None:
            try:
                result = await self.base_model._agenerate(
                    messages, stop=stop, run_manager=run_manager, **kwargs
                )
            except Exception:
                self._account(None, optimized=False, error=True)
                raise
            self._account(_usage_of(result), optimized=False)
            return result
        call = self._prepare(messages, stop, config, kwargs)
        fallback = call.planner_failed
        try:
            result = await _anthropic.agenerate(call.model, call.payload, **kwargs)
        except Exception as error:
            if not self._retry_plain(call, error, config):
                self._account(None, optimized=call.optimized, error=True, plan=call.plan)
                raise
            fallback = True
            try:
                result = await _anthropic.agenerate(call.model, call.plain, **kwargs)
            except Exception:
                self._account(None, optimized=True, fallback=True, error=True, plan=call.plan)
                raise
        self._account(
            _usage_of(result), optimized=call.optimized, fallback=fallback, plan=call.plan
        )
        return result

    def _stream_uncached(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        kwargs.pop(DEFERRABLE, None)  # a stream is never batched
        config = self._caching_config()
        usage: UsageMetadata | None = None
        optimized = fallback = error = False
        plan: CachePlan | None = None
        try:
            if config is None:
                chunks = self.base_model._stream(
                    messages, stop=stop, run_manager=run_manager, **kwargs
                )
                for chunk in chunks:
                    usage = _add_chunk_usage(usage, chunk)
                    yield chunk
                return
            call = self._prepare(messages, stop, config, kwargs, stream=True)
            optimized, fallback, plan = call.optimized, call.planner_failed, call.plan

            def send(body: dict[str, Any]) -> Iterator[ChatGenerationChunk]:
                return _anthropic.stream(
                    call.model, body, stream_usage=call.stream_usage, run_manager=run_manager
                )

            chunks = send(call.payload)
            try:
                first = next(chunks, None)
            except Exception as failure:
                # Nothing has reached the caller yet, so the plain request can still serve.
                if not self._retry_plain(call, failure, config):
                    raise
                fallback = True
                chunks = send(call.plain)
                first = next(chunks, None)
            if first is not None:
                usage = _add_chunk_usage(usage, first)
                yield first
            for chunk in chunks:
                usage = _add_chunk_usage(usage, chunk)
                yield chunk
        except BaseException:
            error = True
            raise
        finally:
            self._account(
                _token_usage(usage), optimized=optimized, fallback=fallback, error=error, plan=plan
            )

    async def _astream_uncached(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        kwargs.pop(DEFERRABLE, None)  # a stream is never batched
        config = self._caching_config()
        usage: UsageMetadata | None = None
        optimized = fallback = error = False
        plan: CachePlan | None = None
        try:
            if config is None:
                async for chunk in self.base_model._astream(
                    messages, stop=stop, run_manager=run_manager, **kwargs
                ):
                    usage = _add_chunk_usage(usage, chunk)
                    yield chunk
                return
            call = self._prepare(messages, stop, config, kwargs, stream=True)
            optimized, fallback, plan = call.optimized, call.planner_failed, call.plan

            def send(body: dict[str, Any]) -> AsyncIterator[ChatGenerationChunk]:
                return _anthropic.astream(
                    call.model, body, stream_usage=call.stream_usage, run_manager=run_manager
                )

            chunks = send(call.payload)
            try:
                first = await anext(chunks, None)
            except Exception as failure:
                if not self._retry_plain(call, failure, config):
                    raise
                fallback = True
                chunks = send(call.plain)
                first = await anext(chunks, None)
            if first is not None:
                usage = _add_chunk_usage(usage, first)
                yield first
            async for chunk in chunks:
                usage = _add_chunk_usage(usage, chunk)
                yield chunk
        except BaseException:
            error = True
            raise
        finally:
            self._account(
                _token_usage(usage), optimized=optimized, fallback=fallback, error=error, plan=plan
            )

    # -- accounting -----------------------------------------------------------------

    def _account(
        self,
        usage: TokenUsage | None,
        *,
        optimized: bool,
        fallback: bool = False,
        error: bool = False,
        reused: bool = False,
        plan: CachePlan | None = None,
    ) -> None:
        self._stats.add(
            usage, optimized=optimized, fallback=fallback, error=error, reused=reused, plan=plan
        )
        if self.recorder is not None:
            assert self.entry_key is not None
            self.recorder.record(
                entry_key=self.entry_key,
                provider=self.provider,
                model=self.model_name,
                usage=usage,
                optimized=optimized,
                error=error,
                fallback=fallback,
                reused=reused,
                plan=plan,
            )

    def get_cache_stats(self) -> CacheStats:
        """Calls, fallbacks, tokens, cache hit rate, cost and savings of this wrapper so far,
        and the migration guide's block counts; read by attribute or by key."""
        return self._stats.snapshot(provider=self.provider, model=self.model_name)

    def cache_stats(self) -> CacheStats:
        """The same as :meth:`get_cache_stats`."""
        return self.get_cache_stats()


@dataclass(frozen=True, slots=True)
class _OptimizedCall:
    """One optimized request: as ChatAnthropic builds it (``plain``) and as planned."""

    model: ChatAnthropic
    plain: dict[str, Any]
    plan: CachePlan | None
    planner_failed: bool
    stream_usage: bool

    @property
    def optimized(self) -> bool:
        return self.plan is not None and self.plan.changed

    @property
    def payload(self) -> dict[str, Any]:
        """What is sent first: the planned request, or the plain one if nothing was planned."""
        return self.plan.payload if self.plan is not None and self.plan.changed else self.plain


def _resolve(values: dict[str, Any]) -> dict[str, Any]:
    """The wrapper's fields with a wrapped wrapper unwrapped, the config read and the
    provider known; see the class docstring."""
    values = dict(values)
    base = values.get("base_model")
    if isinstance(base, OptimizedLLMWrapper):
        values["base_model"] = base.base_model
        for name in ("provider", "store", "entry_key", "watcher", "recorder"):
            if values.get(name) is None and getattr(base, name) is not None:
                values[name] = getattr(base, name)
        base = base.base_model
    config = values.get("config")
    provider = values.get("provider")
    if not isinstance(config, OptimizationConfig | None):
        config = OptimizationConfig.from_dict(config, provider=provider)
    if provider is None and base is not None:
        provider = _provider_for(base, config)
    elif provider is not None and config is not None and config.provider is not None:
        _check_same_provider(config.provider, provider, what=f"provider {provider!r}")
    values["provider"], values["config"] = provider, config
    return {k: v for k, v in values.items() if v is not None}


def _provider_for(base: Any, config: OptimizationConfig | None) -> str:
    """The provider of a wrapper built without one: the config's own, or the model's."""
    from_model = provider_of(base)
    if config is not None and config.provider is not None:
        if from_model is not None:
            _check_same_provider(
                config.provider, from_model, what=f"the base model ({type(base).__name__})"
            )
        return config.provider
    if from_model is not None:
        return from_model
    logger.warning(
        "cannot tell the provider of %s: it gets no optimization; pass provider=...",
        type(base).__name__,
    )
    return "unknown"


def _check_same_provider(configured: str, actual: str, *, what: str) -> None:
    if not same_provider(configured, actual):
        raise ConfigError(
            [
                FieldProblem(
                    "optimization.provider",
                    f"the optimization settings are for provider {configured!r} but "
                    f"{what} is {actual!r}; make them agree",
                )
            ]
        )


def _log_what_applies(wrapper: OptimizedLLMWrapper) -> None:
    """The migration guide's log lines, once per wrapper, so its log monitoring finds them."""
    config, caps = wrapper.config, wrapper._capabilities
    if not config.applies_caching:
        return
    if caps.supports_explicit_caching:
        logger.info("Cache optimization enabled for provider: %s", caps.provider)
    elif caps.caching == "automatic":
        logger.info(
            "Cache optimization enabled for provider: %s (the provider caches prefixes "
            "by itself; no breakpoints to place)",
            caps.provider,
        )
    else:
        logger.warning(
            "Cache optimization requested but not supported by provider: %s (%s)",
            caps.provider,
            caps.reason or "it offers no prompt caching",
        )


_env_reason_logged: list[str | None] = [None]


def _env_turns_off() -> bool:
    reason = env_switch()
    if reason is not None and reason != _env_reason_logged[0]:
        _env_reason_logged[0] = reason
        logger.warning("%s", reason)
    return reason is not None


def _usage_of(result: ChatResult) -> TokenUsage | None:
    for generation in result.generations:
        metadata = getattr(generation.message, "usage_metadata", None)
        if metadata:
            return _token_usage(metadata)
    return None


def _add_chunk_usage(
    total: UsageMetadata | None, chunk: ChatGenerationChunk
) -> UsageMetadata | None:
    metadata = getattr(chunk.message, "usage_metadata", None)
    if not metadata:
        return total
    return metadata if total is None else add_usage(total, metadata)


def _token_usage(metadata: UsageMetadata | None) -> TokenUsage | None:
    if not metadata:
        return None
    try:
        return TokenUsage.from_langchain(metadata)
    except (TypeError, ValueError):
        logger.debug("usage metadata not understood: %r", metadata)
        return None
