"""The wrapper is a drop-in over ChatOpenAI too (its bind_tools calls super())."""

from __future__ import annotations

from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from llmopt.sandbox import SandboxServer
from llmopt.wrapper import OptimizedLLMWrapper


def openai_wrapper(sandbox: SandboxServer) -> OptimizedLLMWrapper:
    base = ChatOpenAI(
        model="gpt-5.4-mini",
        base_url=f"{sandbox.base_url}/v1",
        api_key="sk-sandbox",  # type: ignore[arg-type]
        max_retries=0,
        stream_usage=True,
    )
    return OptimizedLLMWrapper(
        base, "openAI", {"optimizationEnabled": True, "cachingEnabled": True}
    )


def test_tools_bound_on_the_wrapper_reach_chat_openai(sandbox: SandboxServer) -> None:
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    model = openai_wrapper(sandbox).bind_tools([get_weather])
    answer = model.invoke("Please call get_weather for Paris")
    assert isinstance(answer, AIMessage)
    assert answer.tool_calls and answer.tool_calls[0]["name"] == "get_weather"


def test_structured_output_works_on_a_wrapped_chat_openai(sandbox: SandboxServer) -> None:
    class City(BaseModel):
        name: str
        population: int

    for method in ("function_calling", "json_schema"):
        result = (
            openai_wrapper(sandbox).with_structured_output(City, method=method).invoke("A city")
        )
        assert isinstance(result, City)
