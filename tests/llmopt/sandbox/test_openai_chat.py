"""The OpenAI Chat Completions stand-in, driven by the official ``openai`` SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from llmopt.sandbox import FaultRule, SandboxServer, running_sandbox
from llmopt.sandbox._openai_streaming import with_error_tail
from llmopt.sandbox._tokens import CHAT_MESSAGE_OVERHEAD, CHAT_REPLY_OVERHEAD

from .conftest import send

MODEL = "gpt-5.4-mini"
PATH = "/v1/chat/completions"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def openai_client(server: SandboxServer, *, api_key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.base_url}/v1",
        api_key=api_key,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(verify=False),
    )


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[openai.OpenAI]:
    with openai_client(sandbox) as sdk:
        yield sdk


def ask(client: openai.OpenAI, text: str = "Hello there", **params: Any) -> Any:
    return client.chat.completions.create(
        model=params.pop("model", MODEL), messages=[{"role": "user", "content": text}], **params
    )


def test_it_answers_a_question_with_a_chat_completion_and_its_usage(
    client: openai.OpenAI,
) -> None:
    completion = ask(client, "Hello there")

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content
    usage = completion.usage
    assert usage is not None
    # "Hello there": 2 tokens, one message, the reply's priming.
    assert usage.prompt_tokens == 2 + CHAT_MESSAGE_OVERHEAD + CHAT_REPLY_OVERHEAD
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_the_same_request_gets_the_same_answer(client: openai.OpenAI) -> None:
    first, second = ask(client, "Same words"), ask(client, "Same words")

    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.id != second.id


def test_it_accepts_every_role_and_content_parts(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "system", "content": [{"type": "text", "text": "Be kind."}]},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}], "name": "ann"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "How are you?"},
        ],
    )

    assert completion.choices[0].message.content


def test_max_completion_tokens_cuts_the_reply_with_finish_reason_length(
    client: openai.OpenAI,
) -> None:
    completion = ask(client, "Tell me a long story", max_completion_tokens=3)

    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3
    legacy = ask(client, "Tell me a long story", max_tokens=3)
    assert legacy.choices[0].message.content == completion.choices[0].message.content


def test_a_stop_sequence_ends_the_reply_before_it(client: openai.OpenAI) -> None:
    full = ask(client, "Stop me").choices[0].message.content
    assert full is not None
    word = full.split()[2]

    stopped = ask(client, "Stop me", stop=[word])

    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == full[: full.index(word)]


def test_a_forced_tool_choice_returns_a_tool_call_with_json_string_arguments(
    client: openai.OpenAI,
) -> None:
    completion = ask(
        client,
        "What is the weather?",
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_it_calls_a_tool_when_the_user_asks_for_it_and_answers_its_result(
    client: openai.OpenAI,
) -> None:
    asked = ask(client, "Please call get_weather for Paris", tools=[WEATHER])
    (call,) = asked.choices[0].message.tool_calls or []

    answered = client.chat.completions.create(
        model=MODEL,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Please call get_weather for Paris"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [call.model_dump()],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"},
        ],
    )

    assert answered.choices[0].finish_reason == "stop"
    assert answered.choices[0].message.content
    assert ask(client, "Just chat", tools=[WEATHER]).choices[0].finish_reason == "stop"
    none = ask(client, "Please call get_weather", tools=[WEATHER], tool_choice="none")
    assert none.choices[0].finish_reason == "stop"


class Weather(BaseModel):
    city: str
    degrees: int


def test_structured_output_satisfies_the_json_schema(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "The weather in Oslo?"}],
        response_format=Weather,
    )

    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather)


def test_json_object_mode_answers_a_json_object_and_needs_the_word_json(
    client: openai.OpenAI,
) -> None:
    answer = ask(client, "Reply in JSON please", response_format={"type": "json_object"})
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)

    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        ask(client, "Reply please", response_format={"type": "json_object"})


def test_streaming_sends_a_role_chunk_content_deltas_a_finish_chunk_and_usage(
    client: openai.OpenAI,
) -> None:
    whole = ask(client, "Stream this")

    chunks = list(ask(client, "Stream this", stream=True, stream_options={"include_usage": True}))

    assert chunks[0].choices[0].delta.role == "assistant"
    assert {c.id for c in chunks} == {chunks[0].id}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finish = chunks[-2]
    assert finish.choices[0].finish_reason == "stop"
    assert finish.usage is None
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.model_dump() == (whole.usage.model_dump() if whole.usage else None)


def test_a_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(ask(client, "Stream this", stream=True))

    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_a_streamed_tool_call_comes_in_fragments_that_add_up(client: openai.OpenAI) -> None:
    whole = ask(client, "Please call get_weather", tools=[WEATHER])
    (call,) = whole.choices[0].message.tool_calls or []

    with client.chat.completions.stream(
        model=MODEL,
        messages=[{"role": "user", "content": "Please call get_weather"}],
        tools=[WEATHER],
    ) as stream:
        fragments = [event for event in stream if event.type == "chunk"]
        final = stream.get_final_completion()

    first = fragments[1].chunk.choices[0].delta.tool_calls
    assert first is not None
    assert (first[0].index, first[0].id, first[0].function.name) == (0, call.id, "get_weather")
    (streamed,) = final.choices[0].message.tool_calls or []
    assert streamed.function.arguments == call.function.arguments
    assert final.choices[0].finish_reason == "tool_calls"


def test_the_raw_stream_ends_with_done(sandbox: SandboxServer) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}

    response = send(sandbox.base_url, PATH, body, headers={"authorization": "Bearer k"})

    assert response.headers["content-type"].startswith("text/event-stream")
    events = response.body.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(e.startswith("data: ") for e in events[:-1])


def test_an_error_after_the_stream_began_is_an_error_event() -> None:
    def failing() -> Iterator[bytes]:
        yield b"data: {}\n\n"
        raise RuntimeError("lost the model")

    events = list(with_error_tail(failing()))

    assert events[0] == b"data: {}\n\n"
    error = json.loads(events[1].removeprefix(b"data: "))
    assert error["error"]["type"] == "server_error"


def test_more_than_one_choice_is_refused_clearly(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        ask(client, n=2)

    assert raised.value.param == "n"
    assert "n=1" in raised.value.message


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": MODEL}, "messages", "missing_required_parameter"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "missing_required_parameter"),
        ({"model": MODEL, "messages": []}, "messages", "empty_array"),
        (
            {"model": MODEL, "messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
            "invalid_value",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": 7}]},
            "messages[0].content",
            "invalid_type",
        ),
        (
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "max_completion_tokens": 0,
            },
            "max_completion_tokens",
            "integer_below_min_value",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 3},
            "temperature",
            "decimal_above_max_value",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stop": list("abcde")},
            "stop",
            "array_above_max_length",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"},
            "tool_choice",
            None,
        ),
        (
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "stream_options": {"include_usage": True},
            },
            "stream_options",
            None,
        ),
        (
            {
                "model": MODEL,
                "messages": [{"role": "tool", "tool_call_id": "call_1", "content": "x"}],
            },
            "messages.[0].role",
            None,
        ),
        (
            {
                "model": MODEL,
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                    {"role": "user", "content": "y"},
                ],
            },
            "messages.[1].role",
            None,
        ),
        (
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {"type": "json_schema", "json_schema": {"schema": {}}},
            },
            "response_format.json_schema.name",
            "missing_required_parameter",
        ),
    ],
)
def test_an_invalid_request_gets_a_400_in_openais_envelope(
    sandbox: SandboxServer, body: dict[str, Any], param: str, code: str | None
) -> None:
    response = send(sandbox.base_url, PATH, body, headers={"authorization": "Bearer k"})

    assert response.status == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


def test_a_body_that_is_not_json_gets_a_400(sandbox: SandboxServer) -> None:
    response = send(sandbox.base_url, PATH, raw=b"{nope", headers={"authorization": "Bearer k"})

    assert response.status == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]


def test_an_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        ask(client, model="gpt-9-ultra")

    assert raised.value.code == "model_not_found"
    assert "`gpt-9-ultra` does not exist" in raised.value.message


def test_a_dated_snapshot_of_a_known_model_is_served(client: openai.OpenAI) -> None:
    assert ask(client, model="gpt-4o-2024-08-06").model == "gpt-4o-2024-08-06"


def test_a_request_without_a_bearer_key_gets_a_401(sandbox: SandboxServer) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}

    response = send(sandbox.base_url, PATH, body, api_key="only-an-anthropic-header")

    assert response.status == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "didn't provide an API key" in error["message"]


def test_a_key_the_sandbox_does_not_accept_raises_authentication_error() -> None:
    with running_sandbox(api_keys=frozenset({"sk-right-key"})) as server:
        with (
            openai_client(server, api_key="sk-wrong-key") as wrong,
            pytest.raises(openai.AuthenticationError) as raised,
        ):
            ask(wrong)
        with openai_client(server, api_key="sk-right-key") as right:
            assert ask(right).choices

    assert raised.value.code == "invalid_api_key"
    assert "sk-wrong-key" not in raised.value.message


def test_an_injected_rate_limit_raises_rate_limit_error_with_retry_after(
    sandbox: SandboxServer, client: openai.OpenAI
) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "rate_limit", retry_after=7, paths=(PATH,)))

    with pytest.raises(openai.RateLimitError) as raised:
        ask(client)

    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.type == "rate_limit_error"
    assert raised.value.code == "rate_limit_exceeded"
    assert ask(client).choices


@pytest.mark.parametrize(
    ("kind", "status", "words"),
    [
        ("overloaded", 503, "The engine is currently overloaded, please try again later"),
        ("server_error", 500, "The server had an error while processing your request"),
    ],
)
def test_injected_server_faults_use_openais_statuses_and_words(
    sandbox: SandboxServer, client: openai.OpenAI, kind: Any, status: int, words: str
) -> None:
    sandbox.add_fault(FaultRule.fail_when_text_contains("boom", kind, paths=(PATH,)))

    with pytest.raises(openai.InternalServerError) as raised:
        ask(client, "boom goes the request")

    assert raised.value.status_code == status
    assert raised.value.type == "server_error"
    assert words in raised.value.message
    assert ask(client, "all quiet").choices


def test_the_sdk_retries_an_overloaded_request_and_succeeds(sandbox: SandboxServer) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "overloaded", retry_after=0.01, paths=(PATH,)))

    with openai.OpenAI(base_url=f"{sandbox.base_url}/v1", api_key="k", max_retries=1) as sdk:
        assert ask(sdk).choices

    assert sandbox.billing().models[MODEL].requests_errored == 1


def test_anthropic_faults_do_not_reach_the_openai_endpoint(
    sandbox: SandboxServer, client: openai.OpenAI
) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "overloaded"))  # /v1/messages only

    assert ask(client).choices


def test_requests_are_billed_at_openai_prices(
    sandbox: SandboxServer, client: openai.OpenAI
) -> None:
    completion = ask(client, "Bill me")
    with pytest.raises(openai.NotFoundError):
        ask(client, model="gpt-unknown")

    billed = sandbox.billing().models
    usage = completion.usage
    assert usage is not None
    assert billed[MODEL].input_tokens == usage.prompt_tokens
    assert billed[MODEL].output_tokens == usage.completion_tokens
    # gpt-5.4-mini: $0.75 in, $4.50 out per million.
    expected = (
        usage.prompt_tokens * Decimal("0.75") + usage.completion_tokens * Decimal("4.50")
    ) / 10**6
    assert billed[MODEL].cost_usd == expected
    assert billed["gpt-unknown"].requests_errored == 1
