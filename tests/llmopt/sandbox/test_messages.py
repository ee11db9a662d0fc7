from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from anthropic.types import Message
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessageChunk

from llmopt.sandbox import SandboxServer
from llmopt.sandbox._tokens import MESSAGE_OVERHEAD, REQUEST_OVERHEAD, text_tokens

from .conftest import MODEL, send

QUESTION = [{"role": "user", "content": "What does the sandbox say?"}]


def test_a_reply_has_the_shape_and_usage_of_an_anthropic_message(
    client: anthropic.Anthropic,
) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=200, messages=QUESTION)
    message = Message.model_validate(json.loads(raw.http_response.content))

    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert message.content[0].type == "text" and message.content[0].text
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    usage = json.loads(raw.http_response.content)["usage"]
    assert set(usage) == {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "output_tokens",
        "service_tier",
    }
    assert usage["cache_creation"] == {
        "ephemeral_5m_input_tokens": 0,
        "ephemeral_1h_input_tokens": 0,
    }
    assert usage["service_tier"] == "standard"
    assert usage["input_tokens"] == text_tokens(QUESTION[0]["content"]) + MESSAGE_OVERHEAD + 4
    assert usage["output_tokens"] == text_tokens(message.content[0].text)
    assert raw.http_response.headers["request-id"].startswith("req_")
    assert raw.http_response.headers["content-type"] == "application/json"


def test_the_same_request_gets_the_same_reply_and_another_request_another(
    client: anthropic.Anthropic,
) -> None:
    first = client.messages.create(model=MODEL, max_tokens=200, messages=QUESTION)
    again = client.messages.create(model=MODEL, max_tokens=200, messages=QUESTION)
    other = client.messages.create(
        model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "Something else?"}]
    )

    assert first.content == again.content
    assert first.id != again.id
    assert other.content != first.content


def test_a_reply_stops_at_max_tokens(client: anthropic.Anthropic) -> None:
    full = client.messages.create(model=MODEL, max_tokens=500, messages=QUESTION)
    cut = client.messages.create(model=MODEL, max_tokens=5, messages=QUESTION)

    assert (cut.stop_reason, cut.usage.output_tokens) == ("max_tokens", 5)
    assert full.content[0].type == cut.content[0].type == "text"
    assert full.content[0].text.startswith(cut.content[0].text)


def test_a_reply_stops_before_a_stop_sequence(client: anthropic.Anthropic) -> None:
    full = client.messages.create(model=MODEL, max_tokens=500, messages=QUESTION)
    assert full.content[0].type == "text"
    stop = full.content[0].text.split()[3]

    cut = client.messages.create(
        model=MODEL, max_tokens=500, messages=QUESTION, stop_sequences=["never-said", stop]
    )

    assert (cut.stop_reason, cut.stop_sequence) == ("stop_sequence", stop)
    assert cut.content[0].type == "text"
    assert cut.content[0].text == full.content[0].text[: full.content[0].text.index(stop)]


def test_count_tokens_counts_what_a_request_is_billed_for(client: anthropic.Anthropic) -> None:
    tool: Any = {
        "name": "lookup",
        "description": "Look a word up.",
        "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}},
    }
    request: Any = {
        "model": MODEL,
        "system": "You are terse.",
        "tools": [tool],
        "messages": QUESTION,
    }

    counted = client.messages.count_tokens(**request)
    message = client.messages.create(max_tokens=50, **request)

    assert counted.input_tokens == message.usage.input_tokens
    assert counted.input_tokens > text_tokens("You are terse. What does the sandbox say?")


def test_raw_streaming_sends_anthropics_event_sequence(sandbox: SandboxServer) -> None:
    body = {"model": MODEL, "max_tokens": 200, "messages": QUESTION, "stream": True}

    response = send(sandbox.base_url, "/v1/messages", body)

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    text = response.body.decode()
    assert text.endswith("\n\n")
    events = [chunk.split("\n") for chunk in text.strip("\n").split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    assert all(len(lines) == 2 and lines[1].startswith("data: ") for lines in events)
    assert [json.loads(lines[1][6:])["type"] for lines in events] == names
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = json.loads(events[0][1][6:])["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["cache_read_input_tokens"] == 0
    delta = json.loads(events[-2][1][6:])
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] > 1


def test_streaming_with_the_sdk_gives_the_same_message_as_a_plain_request(
    client: anthropic.Anthropic,
) -> None:
    plain = client.messages.create(model=MODEL, max_tokens=200, messages=QUESTION)

    with client.messages.stream(model=MODEL, max_tokens=200, messages=QUESTION) as stream:
        streamed_text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert plain.content[0].type == "text"
    assert streamed_text == plain.content[0].text
    assert final.usage.model_dump() == plain.usage.model_dump()
    assert final.stop_reason == plain.stop_reason


def test_a_streamed_tool_call_arrives_as_input_json_deltas(client: anthropic.Anthropic) -> None:
    tool: Any = {
        "name": "weather",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    }
    request: Any = {
        "model": MODEL,
        "max_tokens": 200,
        "messages": QUESTION,
        "tools": [tool],
        "tool_choice": {"type": "tool", "name": "weather"},
    }
    plain = client.messages.create(**request)

    with client.messages.stream(**request) as stream:
        deltas = [e for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()

    assert deltas and all(e.delta.type == "input_json_delta" for e in deltas)
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == plain.content[0].type == "tool_use"
    assert final.content[0].input == plain.content[0].input


def test_chat_anthropic_streams_text_and_usage(sandbox: SandboxServer) -> None:
    model = ChatAnthropic(  # type: ignore[call-arg]
        model=MODEL, base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0
    )

    chunks = list(model.stream("Tell me something."))
    whole = model.invoke("Tell me something.")

    assert len(chunks) > 2
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert isinstance(merged, AIMessageChunk)
    assert merged.text == whole.text
    assert merged.usage_metadata is not None and whole.usage_metadata is not None
    assert merged.usage_metadata["input_tokens"] == whole.usage_metadata["input_tokens"]
    assert merged.usage_metadata["output_tokens"] == whole.usage_metadata["output_tokens"]
    assert merged.response_metadata["stop_reason"] == "end_turn"


def test_an_empty_final_assistant_turn_is_allowed_and_counts_its_role(
    client: anthropic.Anthropic,
) -> None:
    messages: Any = [*QUESTION, {"role": "assistant", "content": ""}]

    counted = client.messages.count_tokens(model=MODEL, messages=messages)

    user = text_tokens(QUESTION[0]["content"]) + MESSAGE_OVERHEAD
    assert counted.input_tokens == user + MESSAGE_OVERHEAD + REQUEST_OVERHEAD


@pytest.mark.parametrize(
    "headers",
    [{"x-api-key": "any-key"}, {"authorization": "Bearer any-key"}],
    ids=["x-api-key", "bearer"],
)
def test_the_api_key_may_come_in_x_api_key_or_as_a_bearer_token(
    sandbox: SandboxServer, headers: dict[str, str]
) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": QUESTION}

    response = send(sandbox.base_url, "/v1/messages", body, api_key=None, headers=headers)

    assert response.status == 200
