"""The Ollama chat stand-in, driven by ``ChatOllama`` and the ``ollama`` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ollama
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import tool
from langchain_ollama import ChatOllama
from pydantic import BaseModel

from llmopt.sandbox import FaultRule, SandboxServer, running_sandbox
from llmopt.sandbox._ollama_chat import with_error_line
from llmopt.sandbox._tokens import CHAT_MESSAGE_OVERHEAD, CHAT_REPLY_OVERHEAD

from .conftest import send

MODEL = "llama3.1:8b"
PATH = "/api/chat"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


class Forecast(BaseModel):
    city: str
    degrees: int


_OPEN: list[ChatOllama] = []


def chat_model(server: SandboxServer, **params: Any) -> ChatOllama:
    """A ChatOllama on the sandbox; its HTTP client is closed after the test."""
    model = ChatOllama(model=params.pop("model", MODEL), base_url=server.base_url, **params)
    _OPEN.append(model)
    return model


@pytest.fixture(autouse=True)
def _close_chat_models() -> Iterator[None]:
    yield
    while _OPEN:
        client = _OPEN.pop()._client
        if client is not None:
            client.close()


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[ollama.Client]:
    with ollama.Client(host=sandbox.base_url) as ollama_client:
        yield ollama_client


def lines(server: SandboxServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = send(server.base_url, PATH, body, api_key=None)
    assert response.status == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    raw = response.body.decode()
    assert raw.endswith("\n")
    assert "" not in raw[:-1].split("\n")  # never a blank line
    return [json.loads(line) for line in raw[:-1].split("\n")]


def test_chat_ollama_invoke_answers_with_usage_metadata(sandbox: SandboxServer) -> None:
    answer = chat_model(sandbox).invoke("Hello there")

    assert isinstance(answer, AIMessage)
    assert answer.text
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == 2 + CHAT_MESSAGE_OVERHEAD + CHAT_REPLY_OVERHEAD
    assert answer.response_metadata["done_reason"] == "stop"


def test_chat_ollama_stream_adds_up_to_the_invoked_answer(sandbox: SandboxServer) -> None:
    model = chat_model(sandbox)
    whole = model.invoke("Stream please")

    chunks = list(model.stream("Stream please"))

    assert len(chunks) > 2
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    assert total.text == whole.text
    assert total.usage_metadata == whole.usage_metadata


def test_chat_ollama_gets_a_tool_call_when_asked_to_call_a_bound_tool(
    sandbox: SandboxServer,
) -> None:
    model = chat_model(sandbox).bind_tools([get_weather])

    answer = model.invoke("Please call get_weather for Rome")

    (call,) = answer.tool_calls
    assert call["name"] == "get_weather"
    assert isinstance(call["args"]["city"], str)
    assert not model.invoke("Just chat").tool_calls


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_chat_ollama_structured_output_satisfies_the_schema(
    sandbox: SandboxServer, method: Any
) -> None:
    model = chat_model(sandbox)
    if method == "json_mode":
        schema = Forecast.model_json_schema()
        result = model.with_structured_output(schema, method="json_mode").invoke("JSON?")
        assert isinstance(result, dict)
        return
    forecast = model.with_structured_output(Forecast).invoke("Forecast for Oslo?")

    assert isinstance(forecast, Forecast)


def test_a_stream_is_ndjson_text_pieces_then_a_final_line_with_metrics(
    sandbox: SandboxServer,
) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}

    streamed = lines(sandbox, body)

    *pieces, final = streamed
    assert pieces and all(p["done"] is False for p in pieces)
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["message"] == {"role": "assistant", "content": ""}
    assert final["eval_count"] > 0
    assert final["prompt_eval_count"] == 1 + CHAT_MESSAGE_OVERHEAD + CHAT_REPLY_OVERHEAD
    durations = ("load_duration", "prompt_eval_duration", "eval_duration")
    assert final["total_duration"] == sum(final[d] for d in durations)
    whole = send(sandbox.base_url, PATH, {**body, "stream": False}, api_key=None).json()
    assert "".join(p["message"]["content"] for p in pieces) == whole["message"]["content"]
    assert whole["done"] is True


def test_a_tool_call_streams_whole_in_one_line_with_object_arguments(
    sandbox: SandboxServer,
) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "call get_weather please"}],
        "tools": [{"type": "function", "function": get_weather_schema()}],
    }

    streamed = lines(sandbox, body)

    (call_line,) = [line for line in streamed if line["message"].get("tool_calls")]
    (call,) = call_line["message"]["tool_calls"]
    assert call_line["message"]["content"] == ""
    assert call["function"]["name"] == "get_weather"
    assert isinstance(call["function"]["arguments"], dict)


def get_weather_schema() -> dict[str, Any]:
    return {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }


def test_num_predict_cuts_the_reply_with_done_reason_length(client: ollama.Client) -> None:
    response = client.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "Long story"}],
        options={"num_predict": 2},
    )

    assert response.done_reason == "length"
    assert response.eval_count == 2


def test_a_model_name_without_a_tag_means_latest(client: ollama.Client) -> None:
    assert client.chat(model="llama3.1", messages=[{"role": "user", "content": "Hi"}]).done

    with pytest.raises(ollama.ResponseError) as raised:
        client.chat(model="qwen3", messages=[{"role": "user", "content": "Hi"}])

    assert raised.value.status_code == 404
    assert raised.value.error == "model 'qwen3' not found"


def test_tags_lists_the_configured_models(sandbox: SandboxServer, client: ollama.Client) -> None:
    listed = client.list()

    assert [m.model for m in listed.models] == list(sandbox.options.ollama_models)
    assert "mistral:7b" in sandbox.options.ollama_models
    with (
        running_sandbox(ollama_models=("phi4:14b",)) as other,
        ollama.Client(host=other.base_url) as other_client,
    ):
        assert [m.model for m in other_client.list().models] == ["phi4:14b"]
        chat_model(other, model="phi4:14b", validate_model_on_init=True).invoke("Hi")


def test_an_unknown_model_raises_response_error_404(sandbox: SandboxServer) -> None:
    with pytest.raises(ollama.ResponseError) as raised:
        chat_model(sandbox, model="gpt-oss:120b").invoke("Hi")

    assert raised.value.status_code == 404
    assert raised.value.error == "model 'gpt-oss:120b' not found"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"messages": []}, "model is required"),
        ({"model": MODEL, "messages": [{"role": "user", "content": 5}]}, "cannot unmarshal"),
        ({"model": MODEL, "messages": [], "format": 7}, "invalid format"),
        ({"model": MODEL, "messages": [], "options": {"num_predict": "x"}}, "cannot unmarshal"),
    ],
)
def test_an_invalid_request_gets_a_400_with_an_error_string(
    sandbox: SandboxServer, body: dict[str, Any], words: str
) -> None:
    response = send(sandbox.base_url, PATH, body, api_key=None)

    assert response.status == 400
    assert words in response.json()["error"]


def test_an_empty_body_is_a_missing_request_body(sandbox: SandboxServer) -> None:
    response = send(sandbox.base_url, PATH, raw=b"", api_key=None)

    assert (response.status, response.json()) == (400, {"error": "missing request body"})


@pytest.mark.parametrize(
    ("kind", "status"), [("rate_limit", 429), ("overloaded", 503), ("server_error", 500)]
)
def test_injected_faults_raise_response_error_with_their_status(
    sandbox: SandboxServer, client: ollama.Client, kind: Any, status: int
) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, kind, paths=(PATH,)))

    with pytest.raises(ollama.ResponseError) as raised:
        list(client.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True))

    assert raised.value.status_code == status
    assert client.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}]).done


def test_an_overloaded_error_body_is_a_plain_error_string(sandbox: SandboxServer) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "overloaded", paths=(PATH,)))

    response = send(sandbox.base_url, PATH, {"model": MODEL, "messages": []}, api_key=None)

    assert response.status == 503
    assert response.json() == {
        "error": "server busy, please try again.  maximum pending requests exceeded"
    }


def test_an_error_after_streaming_began_is_a_last_error_line() -> None:
    def failing() -> Iterator[bytes]:
        yield b'{"done":false}\n'
        raise RuntimeError("the model crashed")

    sent = list(with_error_line(failing()))

    assert sent[0] == b'{"done":false}\n'
    assert set(json.loads(sent[1])) == {"error"}
    assert sent[1].endswith(b"\n") and not sent[1].endswith(b"\n\n")


def test_ollama_requests_are_counted_and_cost_nothing(
    sandbox: SandboxServer, client: ollama.Client
) -> None:
    response = client.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(ollama.ResponseError):
        client.chat(model="nope:1b", messages=[{"role": "user", "content": "Hi"}])

    billed = sandbox.billing().models
    assert billed[MODEL].requests_succeeded == 1
    assert billed[MODEL].input_tokens == response.prompt_eval_count
    assert billed[MODEL].output_tokens == response.eval_count
    assert billed[MODEL].cost_usd == Decimal(0)
    assert billed["nope:1b"].requests_errored == 1
    assert sandbox.state.openai_cache.live_entries() == sandbox.cached_entries() == 0
