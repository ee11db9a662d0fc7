from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from llmopt.sandbox import SandboxServer, running_sandbox

from .conftest import EPHEMERAL, MODEL, ONE_HOUR, send

VALID: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "Hello"}],
}
TOOL: dict[str, Any] = {
    "name": "lookup",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}
THINKING_TURN: dict[str, Any] = {
    "role": "assistant",
    "content": [{"type": "thinking", "thinking": "Hmm.", "signature": "sig"}],
}


def changed(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    change(body)
    return body


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


INVALID: list[Any] = [
    pytest.param(changed(lambda b: b.pop("model")), "model: Field required", id="model missing"),
    pytest.param(
        changed(lambda b: b.pop("max_tokens")),
        "max_tokens: Field required",
        id="max_tokens missing",
    ),
    pytest.param(
        changed(lambda b: b.update(max_tokens=0)),
        "max_tokens: Input should be greater than or equal to 1",
        id="max_tokens zero",
    ),
    pytest.param(
        changed(lambda b: b.update(max_tokens="10")),
        "max_tokens: Input should be a valid integer",
        id="max_tokens a string",
    ),
    pytest.param(
        changed(lambda b: b.update(messages=[])),
        "messages: at least one message is required",
        id="no messages",
    ),
    pytest.param(
        changed(lambda b: b.update(messages=[{"role": "system", "content": "Hi"}])),
        "messages.0.role: Input should be 'user' or 'assistant'",
        id="unknown role",
    ),
    pytest.param(
        changed(lambda b: b.update(messages=[{"role": "user", "content": ""}])),
        "messages.0: all messages must have non-empty content except for the optional final "
        "assistant message",
        id="empty user content",
    ),
    pytest.param(
        changed(lambda b: b.update(messages=[{"role": "user", "content": [{"type": "audio"}]}])),
        "messages.0.content.0: Input tag 'audio' found using 'type' does not match any of the "
        "expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', "
        "'redacted_thinking'",
        id="unknown block type",
    ),
    pytest.param(
        changed(lambda b: b.update(messages=[{"role": "user", "content": [text("")]}])),
        "messages: text content blocks must be non-empty",
        id="empty text block",
    ),
    pytest.param(
        changed(lambda b: b.update(system=[{"type": "image", "source": {}}])),
        "system.0.type: Input should be 'text'",
        id="system image",
    ),
    pytest.param(
        changed(lambda b: b.update(tools=[{"name": "lookup"}])),
        "tools.0.input_schema: Field required",
        id="tool without schema",
    ),
    pytest.param(
        changed(lambda b: b.update(tools=[{"input_schema": {"type": "object"}}])),
        "tools.0.name: Field required",
        id="tool without name",
    ),
    pytest.param(
        changed(lambda b: b.update(tools=[TOOL, TOOL])),
        "tools: Tool names must be unique.",
        id="duplicate tools",
    ),
    pytest.param(
        changed(lambda b: b.update(tool_choice={"type": "any"})),
        "tool_choice may only be specified while providing tools",
        id="tool_choice without tools",
    ),
    pytest.param(
        changed(lambda b: b.update(tools=[TOOL], tool_choice={"type": "sometimes"})),
        "tool_choice: Input tag 'sometimes' found using 'type' does not match any of the "
        "expected tags: 'auto', 'any', 'tool', 'none'",
        id="unknown tool_choice",
    ),
    pytest.param(
        changed(lambda b: b.update(tools=[TOOL], tool_choice={"type": "tool"})),
        "tool_choice.name: Field required",
        id="tool_choice without name",
    ),
    pytest.param(
        changed(lambda b: b.update(tools=[TOOL], tool_choice={"type": "tool", "name": "other"})),
        "tool_choice.name: Tool 'other' not found in provided tools",
        id="tool_choice naming a missing tool",
    ),
    pytest.param(
        changed(
            lambda b: b.update(
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}],
                    }
                ]
            )
        ),
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_1. "
        "Each `tool_result` block must have a corresponding `tool_use` block in the previous "
        "message.",
        id="tool_result without tool_use",
    ),
    pytest.param(
        changed(lambda b: b.update(system=[text("Be brief.", cache_control={"type": "forever"})])),
        "system.0.cache_control.type: Input should be 'ephemeral'",
        id="cache_control type",
    ),
    pytest.param(
        changed(
            lambda b: b.update(
                system=[text("Be brief.", cache_control={"type": "ephemeral", "ttl": "10m"})]
            )
        ),
        "system.0.cache_control.ttl: Input should be '5m' or '1h'",
        id="cache_control ttl",
    ),
    pytest.param(
        changed(
            lambda b: b.update(
                messages=[{"role": "user", "content": [text("", cache_control=EPHEMERAL)]}]
            )
        ),
        "messages.0.content.0.text: cache_control cannot be set for empty text blocks",
        id="cache_control on empty text",
    ),
    pytest.param(
        changed(
            lambda b: b.update(
                messages=[
                    {"role": "user", "content": "Think."},
                    {
                        "role": "assistant",
                        "content": [{**THINKING_TURN["content"][0], "cache_control": EPHEMERAL}],
                    },
                    {"role": "user", "content": "Go on."},
                ]
            )
        ),
        "messages.1.content.0.thinking.cache_control: Extra inputs are not permitted",
        id="cache_control on thinking",
    ),
    pytest.param(
        changed(
            lambda b: b.update(thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=1024)
        ),
        "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
        "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        "#max-tokens-and-context-window-size",
        id="thinking budget over max_tokens",
    ),
]


@pytest.mark.parametrize(("body", "message"), INVALID)
def test_an_invalid_request_gets_400_with_anthropics_envelope(
    sandbox: SandboxServer, body: dict[str, Any], message: str
) -> None:
    response = send(sandbox.base_url, "/v1/messages", body)

    assert response.status == 400
    envelope = response.json()
    assert envelope == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
        "request_id": response.headers["request-id"],
    }


def test_a_fifth_cache_control_block_is_refused_with_the_exact_message(
    client: anthropic.Anthropic,
) -> None:
    blocks: Any = [text(f"Part {i}.", cache_control=EPHEMERAL) for i in range(5)]

    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": blocks}]
        )

    assert raised.value.status_code == 400
    assert raised.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "A maximum of 4 blocks with cache_control may be provided. Found 5.",
        },
        "request_id": raised.value.request_id,
    }


def test_top_level_automatic_caching_takes_one_of_the_four_slots(
    client: anthropic.Anthropic,
) -> None:
    blocks: Any = [text(f"Part {i}.", cache_control=EPHEMERAL) for i in range(4)]
    request: Any = {
        "model": MODEL,
        "max_tokens": 10,
        "messages": [{"role": "user", "content": blocks}],
    }
    client.messages.create(**request)

    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(**request, cache_control=EPHEMERAL)

    assert "Found 5." in str(raised.value)


def test_a_one_hour_marker_after_a_five_minute_marker_is_refused(
    client: anthropic.Anthropic,
) -> None:
    tool: Any = {**TOOL, "cache_control": EPHEMERAL}
    system: Any = [text("Be brief.", cache_control=ONE_HOUR)]

    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model=MODEL,
            max_tokens=10,
            tools=[tool],
            system=system,
            messages=[{"role": "user", "content": "Hello"}],
        )

    message = raised.value.body["error"]["message"]  # type: ignore[index]
    assert message.startswith("system.0.cache_control.ttl: ")
    assert (
        "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block"
        in message
    )


def test_one_hour_markers_before_five_minute_markers_are_accepted(
    client: anthropic.Anthropic,
) -> None:
    tool: Any = {**TOOL, "cache_control": ONE_HOUR}
    system: Any = [text("Be brief.", cache_control=ONE_HOUR)]
    content: Any = [text("Hello", cache_control=EPHEMERAL)]

    message = client.messages.create(
        model=MODEL,
        max_tokens=10,
        tools=[tool],
        system=system,
        messages=[{"role": "user", "content": content}],
    )

    assert message.type == "message"


def test_a_tool_result_may_answer_any_tool_use_of_the_previous_turn(
    client: anthropic.Anthropic,
) -> None:
    messages: Any = [
        {"role": "user", "content": "Look it up."},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_other", "content": "42"}],
        },
    ]

    message = client.messages.create(model=MODEL, max_tokens=20, tools=[TOOL], messages=messages)

    assert message.stop_reason in {"end_turn", "max_tokens"}


def test_an_unknown_model_is_404(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        client.messages.create(
            model="claude-sonnet-3-9", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        )

    assert raised.value.body["error"] == {  # type: ignore[index]
        "type": "not_found_error",
        "message": "model: claude-sonnet-3-9",
    }


def test_a_request_without_an_api_key_is_401(sandbox: SandboxServer) -> None:
    response = send(sandbox.base_url, "/v1/messages", VALID, api_key=None)

    assert response.status == 401
    assert response.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }


def test_only_configured_api_keys_are_accepted() -> None:
    with running_sandbox(api_keys=frozenset({"sk-right"})) as sandbox:
        wrong = send(sandbox.base_url, "/v1/messages", VALID, api_key="sk-wrong")
        right = send(sandbox.base_url, "/v1/messages", VALID, api_key="sk-right")

    assert wrong.status == 401
    assert wrong.json()["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
    assert right.status == 200


def test_a_body_over_the_size_limit_is_413() -> None:
    with running_sandbox(max_request_bytes=1_000) as sandbox:
        big = changed(lambda b: b.update(messages=[{"role": "user", "content": "x " * 1_000}]))
        response = send(sandbox.base_url, "/v1/messages", big)
        after = send(sandbox.base_url, "/v1/messages", VALID)

    assert response.status == 413
    assert response.json()["error"] == {
        "type": "request_too_large",
        "message": "Request exceeds the maximum allowed number of bytes.",
    }
    assert after.status == 200


def test_a_body_that_is_not_json_is_400(sandbox: SandboxServer) -> None:
    response = send(sandbox.base_url, "/v1/messages", raw=b"{not json")

    assert response.status == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_an_unknown_endpoint_is_404(sandbox: SandboxServer) -> None:
    response = send(sandbox.base_url, "/v1/complete", VALID)

    assert response.status == 404
    assert response.json()["error"] == {"type": "not_found_error", "message": "Not Found"}


def test_count_tokens_validates_like_messages_but_needs_no_max_tokens(
    sandbox: SandboxServer,
) -> None:
    without_max = changed(lambda b: b.pop("max_tokens"))
    invalid = changed(lambda b: b.update(messages=[]))

    ok = send(sandbox.base_url, "/v1/messages/count_tokens", without_max)
    bad = send(sandbox.base_url, "/v1/messages/count_tokens", invalid)

    assert ok.status == 200 and set(ok.json()) == {"input_tokens"}
    assert bad.status == 400
    assert bad.json()["error"]["message"] == "messages: at least one message is required"


def test_a_body_over_the_size_limit_wears_its_apis_envelope() -> None:
    openai_body = {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "x " * 1_000}]}
    ollama_body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "x " * 1_000}]}
    with running_sandbox(max_request_bytes=1_000) as sandbox:
        openai = send(sandbox.base_url, "/v1/chat/completions", openai_body)
        ollama = send(sandbox.base_url, "/api/chat", ollama_body)

    assert openai.status == 413
    assert openai.json()["error"]["type"] == "invalid_request_error"
    assert "maximum allowed number of bytes" in openai.json()["error"]["message"]
    assert ollama.status == 413
    assert set(ollama.json()) == {"error"}
