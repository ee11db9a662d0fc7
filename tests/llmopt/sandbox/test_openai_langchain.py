"""The OpenAI Chat Completions stand-in, driven by ``langchain_openai.ChatOpenAI``."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from llmopt.sandbox import FaultRule, SandboxServer

from .conftest import words

MODEL = "gpt-5.4-mini"


def chat_model(server: SandboxServer, **params: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=MODEL,
        base_url=f"{server.base_url}/v1",
        api_key=server.api_key,  # type: ignore[arg-type]
        use_responses_api=False,
        stream_usage=True,
        max_retries=0,
        **params,
    )


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


class Forecast(BaseModel):
    city: str
    degrees: int


def test_invoke_answers_with_usage_metadata(sandbox: SandboxServer) -> None:
    answer = chat_model(sandbox).invoke("Hello there")

    assert isinstance(answer, AIMessage)
    assert answer.text
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == 2 + 3 + 3
    assert answer.response_metadata["finish_reason"] == "stop"


def test_stream_adds_up_to_the_invoked_answer_and_reports_usage(sandbox: SandboxServer) -> None:
    model = chat_model(sandbox)
    whole = model.invoke("Stream please")

    chunks = list(model.stream("Stream please"))

    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    assert total.text == whole.text
    assert total.usage_metadata == whole.usage_metadata


def test_bound_tools_come_back_as_tool_calls_invoked_and_streamed(
    sandbox: SandboxServer,
) -> None:
    model = chat_model(sandbox).bind_tools([get_weather], tool_choice="get_weather")

    answer = model.invoke("What is the weather in Rome?")
    streamed = list(model.stream("What is the weather in Rome?"))

    (call,) = answer.tool_calls
    assert call["name"] == "get_weather"
    assert isinstance(call["args"]["city"], str)
    total = streamed[0]
    for chunk in streamed[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    assert [c["args"] for c in total.tool_calls] == [call["args"]]


def test_with_structured_output_returns_the_pydantic_model(sandbox: SandboxServer) -> None:
    forecast = chat_model(sandbox).with_structured_output(Forecast).invoke("Forecast for Oslo?")

    assert isinstance(forecast, Forecast)


def test_a_repeated_long_prompt_reports_cache_reads_in_usage_metadata(
    sandbox: SandboxServer,
) -> None:
    model = chat_model(sandbox)
    messages = [SystemMessage(words(1200)), HumanMessage("What now?")]

    first = model.invoke(messages)
    second = model.invoke(messages)

    assert first.usage_metadata is not None and second.usage_metadata is not None
    assert first.usage_metadata["input_token_details"]["cache_read"] == 0
    assert second.usage_metadata["input_token_details"]["cache_read"] == 1152
    assert second.usage_metadata["input_tokens"] == first.usage_metadata["input_tokens"]


def test_an_injected_fault_reaches_langchain_as_the_sdks_exception(
    sandbox: SandboxServer,
) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "rate_limit", paths=("/v1/chat/completions",)))

    with pytest.raises(openai.RateLimitError):
        chat_model(sandbox).invoke("Hi")
