"""Each provider's overheads against what the sandbox's stand-ins report.

Requests go through the official clients (ChatOpenAI and the ``openai`` SDK, ChatOllama,
ChatAnthropic), so what is counted is what those clients send: the counter must agree
with the reported ``prompt_tokens`` / ``prompt_eval_count`` / ``input_tokens`` to the
token, for every message shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from llmopt.sandbox import SandboxServer
from llmopt.tokens import TokenCounter

MODELS = {"openAI": "gpt-5.4-mini", "ollama": "llama3.1:8b", "anthropic": "claude-sonnet-4-6"}
PIXEL = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5"
    "ErkJggg=="
)


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """The weather in a city, now."""
    return f"Sunny in {city}"


@tool
def convert(amount: float, currency: str) -> str:
    """Converts an amount of money to euros."""
    return f"{amount} {currency}"


SHAPES: dict[str, list[BaseMessage]] = {
    "a user turn": [HumanMessage("Hello there, how are you?")],
    "system and user": [
        SystemMessage("You are a careful assistant; answer in one sentence."),
        HumanMessage("What's 2 + 2?"),
    ],
    "several turns": [
        SystemMessage("Be brief."),
        HumanMessage("Hi!"),
        AIMessage("Hello! How can I help?"),
        HumanMessage("Tell me a joke about tokens."),
        AIMessage("Why did the token cross the road? To get counted."),
        HumanMessage("Another, please."),
    ],
    "named messages": [
        HumanMessage("Hi, I'm Alice.", name="alice"),
        AIMessage("Hello Alice.", name="helper_bot"),
        HumanMessage("Bye"),
    ],
    "tool calls and results": [
        SystemMessage("Use the tools."),
        HumanMessage("Weather in Zürich, and 12.5 USD in euros?"),
        AIMessage(
            "Let me check.",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Zürich"}, "id": "call_1"},
                {"name": "convert", "args": {"amount": 12.5, "currency": "USD"}, "id": "call_2"},
            ],
        ),
        ToolMessage('{"sky": "rain", "celsius": 11}', tool_call_id="call_1", name="get_weather"),
        ToolMessage("11.52 EUR", tool_call_id="call_2"),
        HumanMessage("Thanks! Should I take an umbrella?"),
    ],
    "an image": [
        HumanMessage(
            [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            ]
        )
    ],
}


@pytest.fixture
def chat_model(sandbox: SandboxServer) -> Iterator[Callable[[str], BaseChatModel]]:
    """Builds the provider's LangChain chat model on the sandbox; closes what it opened."""
    opened: list[ChatOllama] = []

    def build(provider: str) -> BaseChatModel:
        if provider == "openAI":
            return ChatOpenAI(
                model=MODELS[provider],
                base_url=f"{sandbox.base_url}/v1",
                api_key=sandbox.api_key,  # type: ignore[arg-type]
                use_responses_api=False,
                max_retries=0,
            )
        if provider == "ollama":
            model = ChatOllama(model=MODELS[provider], base_url=sandbox.base_url)
            opened.append(model)
            return model
        return ChatAnthropic(  # type: ignore[call-arg]
            model=MODELS[provider],
            base_url=sandbox.base_url,
            api_key=sandbox.api_key,
            max_retries=0,
        )

    yield build
    for model in opened:  # ChatOllama never closes its httpx client
        if model._client is not None:
            model._client._client.close()


@pytest.mark.parametrize("with_tools", [False, True], ids=["no tools", "two tools"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("provider", list(MODELS))
def test_the_count_is_the_prompt_tokens_the_provider_reports(
    chat_model: Callable[[str], BaseChatModel], provider: str, shape: str, with_tools: bool
) -> None:
    messages = SHAPES[shape]
    tools = [get_weather, convert] if with_tools else []
    model = chat_model(provider)
    runnable = model.bind_tools(tools) if tools else model

    reply = runnable.invoke(messages)

    assert isinstance(reply, AIMessage) and reply.usage_metadata is not None
    counted = TokenCounter().count_messages(messages, MODELS[provider], tools=tools)
    assert counted == reply.usage_metadata["input_tokens"]


def test_anthropics_counting_endpoint_agrees_on_what_chat_anthropic_sends(
    chat_model: Callable[[str], BaseChatModel], anthropic_client: anthropic.Anthropic
) -> None:
    messages = SHAPES["tool calls and results"]
    tools = [get_weather, convert]

    reply = chat_model("anthropic").bind_tools(tools).invoke(messages)

    assert isinstance(reply, AIMessage) and reply.usage_metadata is not None
    counter = TokenCounter(anthropic_client=anthropic_client)
    exact = counter.count_messages(messages, MODELS["anthropic"], tools=tools, exact=True)
    assert exact == reply.usage_metadata["input_tokens"]


def test_openai_sdk_requests_in_openai_shape_are_counted_as_reported(
    sandbox: SandboxServer,
) -> None:
    tools: list[Any] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city, now.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "enum": ["Oslo", "Zürich"]}},
                    "required": ["city"],
                },
            },
        }
    ]
    messages: list[Any] = [
        {"role": "developer", "content": "Answer with the tool's result."},
        {"role": "user", "content": "Weather in Oslo?", "name": "bob"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Cold and clear, -4 °C."},
        {"role": "user", "content": [{"type": "text", "text": "So, a coat?"}]},
    ]
    with openai.OpenAI(
        base_url=f"{sandbox.base_url}/v1", api_key=sandbox.api_key, max_retries=0
    ) as client:
        reply = client.chat.completions.create(
            model=MODELS["openAI"], messages=messages, tools=tools
        )

    assert reply.usage is not None
    counted = TokenCounter().count_messages(messages, MODELS["openAI"], tools=tools)
    assert counted == reply.usage.prompt_tokens
