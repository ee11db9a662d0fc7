"""``OrchestratedChatModel``: one entry whose answers come from a strategy over several.

An entry whose ``configuration.orchestration`` names a strategy is served through this
model wherever llmopt builds the entry for several entries at once
(:func:`~llmopt.routing.get_routed_model`): a LangChain chat model like any other, so
routing, failover, budgets and callers need not know. Each answer carries
``response_metadata["llmopt_orchestration"]`` (the strategy, every call's entry,
latency, cost and score, the winner and why) and ``usage_metadata`` summed over every
call, so token accounting sees what the strategy really used. When the strategy ends
without any answer, :class:`~llmopt.errors.OrchestrationFailed` is raised, naming each
call's error, so failover can move on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict, Field

from llmopt.errors import OrchestrationFailed
from llmopt.orchestration._orchestrator import MultiLLMOrchestrator
from llmopt.orchestration._scoring import Scorer
from llmopt.orchestration._settings import OrchestrationSettings
from llmopt.orchestration._task import TaskResult, arun, run

ORCHESTRATION_KEY = "llmopt_orchestration"


class OrchestratedChatModel(BaseChatModel):
    """Entry ``entry_key`` answered by ``settings``' strategy over ``models`` (entry key
    to chat model, one for each of ``settings.entries``); see the module docstring.
    ``scorer`` judges answers for the cascade and for ranking."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    entry_key: str
    settings: OrchestrationSettings = Field(exclude=True)
    models: Mapping[str, Any] = Field(exclude=True)
    scorer: Scorer | None = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "llmopt-orchestrated"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"entry_key": self.entry_key, **self.settings.to_dict()}

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """The same strategy over each model with ``tools`` bound its own way."""
        options = dict(kwargs)
        if tool_choice is not None:
            options["tool_choice"] = tool_choice
        bound = {key: model.bind_tools(tools, **options) for key, model in self.models.items()}
        return self.model_copy(update={"models": bound})

    def _orchestrator(self, stop: list[str] | None, kwargs: dict[str, Any]) -> MultiLLMOrchestrator:
        options = dict(kwargs)
        if stop is not None:
            options["stop"] = stop
        models = {
            key: (model.bind(**options) if options else model) for key, model in self.models.items()
        }
        return MultiLLMOrchestrator(models, scorer=self.scorer)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        orchestrator = self._orchestrator(stop, kwargs)
        result = run(
            orchestrator, self.settings, messages, scorer=self.scorer, entries=self._entries()
        )
        return self._result(result)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        orchestrator = self._orchestrator(stop, kwargs)
        result = await arun(
            orchestrator, self.settings, messages, scorer=self.scorer, entries=self._entries()
        )
        return self._result(result)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # A strategy picks among whole answers, so the kept one arrives as one chunk.
        yield _as_chunk(self._generate(messages, stop, run_manager, **kwargs))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        yield _as_chunk(await self._agenerate(messages, stop, run_manager, **kwargs))

    def _entries(self) -> list[str]:
        return list(self.settings.entries) or list(self.models)

    def _result(self, result: TaskResult) -> ChatResult:
        if result.answer is None or result.answer.answer is None:
            failures = "; ".join(
                f"{call.entry}: {call.error or 'no answer'}" for call in result.calls
            )
            raise OrchestrationFailed(
                f"{self.entry_key}: the {result.strategy} strategy got no answer ({failures})"
            )
        winner = result.answer.answer
        message = AIMessage(
            content=winner.content,
            tool_calls=winner.tool_calls,
            id=winner.id,
            response_metadata={
                **winner.response_metadata,
                ORCHESTRATION_KEY: _summary(result),
            },
            usage_metadata=_summed_usage(result) or winner.usage_metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def _as_chunk(result: ChatResult) -> ChatGenerationChunk:
    message = result.generations[0].message
    assert isinstance(message, AIMessage)
    chunk = AIMessageChunk(
        content=message.content,
        id=message.id,
        response_metadata=message.response_metadata,
        usage_metadata=message.usage_metadata,
        tool_call_chunks=[
            tool_call_chunk(
                name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=index
            )
            for index, call in enumerate(message.tool_calls)
        ],
    )
    return ChatGenerationChunk(message=chunk)


def _summary(result: TaskResult) -> dict[str, Any]:
    """The strategy's record without the answers' texts (the message holds the one kept)."""
    data = result.to_dict()
    data.pop("text", None)
    data["calls"] = [
        {k: v for k, v in call.items() if k != "text"} for call in data.get("calls", [])
    ]
    return data


def _summed_usage(result: TaskResult) -> Any:
    usages = [
        call.answer.usage_metadata
        for call in result.calls
        if call.answer is not None and call.answer.usage_metadata
    ]
    if not usages:
        return None
    return {
        "input_tokens": sum(usage["input_tokens"] for usage in usages),
        "output_tokens": sum(usage["output_tokens"] for usage in usages),
        "total_tokens": sum(usage["total_tokens"] for usage in usages),
    }
