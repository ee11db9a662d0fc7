"""Markers the caller placed: the wrapper still sends only requests the API accepts."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from llmopt.sandbox import SandboxServer

from .conftest import SYSTEM, chat, words, wrap

FIVE_MINUTES = {"type": "ephemeral"}
ONE_HOUR = {"type": "ephemeral", "ttl": "1h"}
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJ"
    "RU5ErkJggg=="
)


def text(value: str, marker: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": value}
    if marker:
        block["cache_control"] = marker
    return block


def five_markers() -> list[BaseMessage]:
    return [
        SystemMessage([text(SYSTEM, FIVE_MINUTES)]),
        HumanMessage([text(words(300, f"part{n}"), FIVE_MINUTES) for n in range(4)]),
    ]


def empty_marked_block() -> list[BaseMessage]:
    return [SystemMessage(SYSTEM), HumanMessage([text("question"), text("", FIVE_MINUTES)])]


def one_hour_after_five_minutes() -> list[BaseMessage]:
    return [
        SystemMessage([text(SYSTEM, FIVE_MINUTES)]),
        HumanMessage([text(words(1_200, "later"), ONE_HOUR)]),
    ]


def image_with_marker() -> list[BaseMessage]:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
        "cache_control": FIVE_MINUTES,
    }
    return [SystemMessage(SYSTEM), HumanMessage([image, text("what is this?")])]


def tool_result_with_marker() -> list[BaseMessage]:
    call = {"name": "lookup", "args": {"q": "policy"}, "id": "toolu_01"}
    result = [text(words(1_500, "result"), FIVE_MINUTES)]
    return [
        SystemMessage(SYSTEM),
        HumanMessage("look it up"),
        AIMessage("", tool_calls=[call]),
        ToolMessage(result, tool_call_id="toolu_01"),
    ]


REJECTED_BY_THE_API = {
    "five markers": five_markers,
    "a 1h marker after a 5m one": one_hour_after_five_minutes,
}
ACCEPTED = {
    "a marker on an image": image_with_marker,
    "a marker on a tool result": tool_result_with_marker,
}


@pytest.mark.parametrize("case", sorted(REJECTED_BY_THE_API))
def test_requests_the_api_would_reject_are_repaired_before_sending(
    sandbox: SandboxServer, case: str
) -> None:
    messages = REJECTED_BY_THE_API[case]()
    with pytest.raises(anthropic.BadRequestError):
        chat(sandbox).invoke(messages)  # the bare model really sends an invalid request
    sandbox.reset()
    model = wrap(chat(sandbox))
    assert model.invoke(messages).content
    assert sandbox.billing().total.requests_errored == 0
    assert model.get_cache_stats()["fallbacks"] == 0


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_valid_caller_markers_are_kept_and_work(sandbox: SandboxServer, case: str) -> None:
    messages = ACCEPTED[case]()
    model = wrap(chat(sandbox))
    model.invoke(messages)
    second = model.invoke(messages)
    assert second.usage_metadata is not None
    assert second.usage_metadata["input_token_details"]["cache_read"] > 0
    assert sandbox.billing().total.requests_errored == 0


def test_a_marked_empty_text_block_never_reaches_the_api(sandbox: SandboxServer) -> None:
    # ChatAnthropic drops empty text blocks itself; the planner would remove the marker
    # too (tests/llmopt/caching covers that on raw payloads).
    model = wrap(chat(sandbox))
    assert model.invoke(empty_marked_block()).content
    assert sandbox.billing().total.requests_errored == 0
