"""The wrapper over ChatAnthropic, against the sandbox: same answers, cheaper bills."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from llmopt.sandbox import SandboxServer
from llmopt.wrapper import OptimizedLLMWrapper

from .conftest import SYSTEM, chat, words, wrap


def ask(question: str) -> list[BaseMessage]:
    return [SystemMessage(SYSTEM), HumanMessage(question)]


def test_with_optimization_off_it_answers_and_bills_exactly_as_the_bare_model(
    sandbox: SandboxServer,
) -> None:
    bare = chat(sandbox).invoke(ask("q1"))
    billed_bare = sandbox.billing().total
    sandbox.reset()
    off = OptimizedLLMWrapper(chat(sandbox), "anthropic", {"optimizationEnabled": False})
    wrapped = off.invoke(ask("q1"))
    assert wrapped.content == bare.content
    assert wrapped.usage_metadata == bare.usage_metadata
    assert sandbox.billing().total == billed_bare


def test_the_second_call_reads_the_shared_system_prompt_from_the_cache(
    sandbox: SandboxServer,
) -> None:
    model = wrap(chat(sandbox))
    first = model.invoke(ask("first document"))
    second = model.invoke(ask("second document"))
    assert first.usage_metadata is not None and second.usage_metadata is not None
    # LangChain moves creation into the per-TTL keys when Anthropic reports them.
    assert first.usage_metadata["input_token_details"]["ephemeral_5m_input_tokens"] >= 2_000
    assert second.usage_metadata["input_token_details"]["cache_read"] >= 2_000


def test_usage_keeps_langchains_shape_without_double_counting(sandbox: SandboxServer) -> None:
    messages = ask("same question")
    bare = chat(sandbox).invoke(messages).usage_metadata
    model = wrap(chat(sandbox))
    model.invoke(messages)
    cached = model.invoke(messages).usage_metadata
    assert bare is not None and cached is not None
    assert cached["input_tokens"] == bare["input_tokens"]  # total input, cache included
    details = cached["input_token_details"]
    assert details["cache_read"] > 0
    assert cached["total_tokens"] == cached["input_tokens"] + cached["output_tokens"]


def test_the_provider_bills_less_for_the_same_work(sandbox: SandboxServer) -> None:
    questions = [f"document {n}: " + words(50, f"w{n}") for n in range(5)]
    bare = chat(sandbox)
    for question in questions:
        bare.invoke(ask(question))
    bare_cost = sandbox.billing().total.cost_usd
    sandbox.reset()
    model = wrap(chat(sandbox))
    for question in questions:
        model.invoke(ask(question))
    optimized_cost = sandbox.billing().total.cost_usd
    assert bare_cost is not None and optimized_cost is not None
    assert optimized_cost < bare_cost / 2


async def test_every_way_of_calling_gives_the_base_models_answer(sandbox: SandboxServer) -> None:
    base, model = chat(sandbox), wrap(chat(sandbox))
    messages = ask("hello")
    expected = base.invoke(messages).content
    assert model.invoke(messages).content == expected
    assert (await model.ainvoke(messages)).content == expected
    assert [m.content for m in model.batch([messages, messages])] == [expected, expected]
    assert [m.content for m in await model.abatch([messages])] == [expected]
    assert "".join(str(c.content) for c in model.stream(messages)) == expected
    assert "".join([str(c.content) async for c in model.astream(messages)]) == expected


def test_a_stream_reports_its_usage_and_reads_the_cache(sandbox: SandboxServer) -> None:
    model = wrap(chat(sandbox))
    model.invoke(ask("warm"))
    total: Any = None
    for chunk in model.stream(ask("streamed")):
        total = chunk if total is None else total + chunk
    assert total.usage_metadata["input_token_details"]["cache_read"] >= 2_000
    assert model.get_cache_stats()["calls"] == 2


class Person(BaseModel):
    name: str
    age: int


def test_tools_and_structured_output_work_through_the_wrapper(sandbox: SandboxServer) -> None:
    model = wrap(chat(sandbox))

    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    message = model.bind_tools([add], tool_choice="add").invoke(ask("add 1 and 2"))
    assert isinstance(message, AIMessage)
    assert message.tool_calls and message.tool_calls[0]["name"] == "add"
    person = model.with_structured_output(Person).invoke(ask("who?"))
    assert isinstance(person, Person)
    raw = model.with_structured_output(Person, include_raw=True).invoke(ask("who?"))
    assert isinstance(raw["parsed"], Person) and isinstance(raw["raw"], AIMessage)
    assert model.get_cache_stats()["optimized_calls"] == 3


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.events.append("start")

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.events.append("end")


def test_the_base_models_callbacks_fire_once_per_call(sandbox: SandboxServer) -> None:
    handler = Recorder()
    model = wrap(chat(sandbox, callbacks=[handler]))
    model.invoke(ask("hi"))
    assert handler.events == ["start", "end"]
    assert model.get_name() == "ChatAnthropic"


def test_an_error_the_optimization_did_not_cause_is_the_base_models_error(
    sandbox: SandboxServer,
) -> None:
    bare_error = wrapped_error = None
    try:
        chat(sandbox, model="claude-imaginary-9").invoke(ask("x"))
    except Exception as exc:
        bare_error = exc
    try:
        wrap(chat(sandbox, model="claude-imaginary-9")).invoke(ask("x"))
    except Exception as exc:
        wrapped_error = exc
    assert bare_error is not None and wrapped_error is not None
    assert type(wrapped_error) is type(bare_error)
    assert str(wrapped_error) == str(bare_error)


def broken_planner(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("planner bug")


def test_a_planner_failure_falls_back_to_the_plain_request(sandbox: SandboxServer) -> None:
    model = OptimizedLLMWrapper(
        chat(sandbox),
        "anthropic",
        {"optimizationEnabled": True, "cachingEnabled": True},
        planner=broken_planner,
    )
    assert model.invoke(ask("still answered")).content
    assert model.get_cache_stats()["fallbacks"] == 1


def test_without_fallback_a_planner_failure_reaches_the_caller(sandbox: SandboxServer) -> None:
    model = OptimizedLLMWrapper(
        chat(sandbox),
        "anthropic",
        {"optimizationEnabled": True, "cachingEnabled": True, "fallbackToStandard": False},
        planner=broken_planner,
    )
    with pytest.raises(RuntimeError, match="planner bug"):
        model.invoke(ask("x"))


def five_markers(payload: Any, **kwargs: Any) -> Any:
    from llmopt.caching import CachePlan

    marked = dict(payload)
    text = payload["messages"][-1]["content"]
    block = {"type": "text", "text": text if isinstance(text, str) else "x"}
    marked["messages"] = [
        {"role": "user", "content": [{**block, "cache_control": {"type": "ephemeral"}}] * 5}
    ]
    return CachePlan(payload=marked, breakpoints=(), decisions=(), changed=True)


@pytest.mark.parametrize("streaming", [False, True])
def test_a_request_the_api_rejects_for_its_markers_is_retried_without_them(
    sandbox: SandboxServer, streaming: bool
) -> None:
    model = OptimizedLLMWrapper(
        chat(sandbox),
        "anthropic",
        {**{"optimizationEnabled": True, "cachingEnabled": True}},
        planner=five_markers,
    )
    expected = chat(sandbox).invoke(ask("q")).content
    if streaming:
        assert "".join(str(c.content) for c in model.stream(ask("q"))) == expected
    else:
        assert model.invoke(ask("q")).content == expected
    stats = model.get_cache_stats()
    assert (stats["fallbacks"], stats["errors"]) == (1, 0)
    assert sandbox.billing().total.requests_errored == 1
