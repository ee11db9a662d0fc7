from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import pytest
from anthropic.types import Usage
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.sandbox import ManualClock, SandboxServer
from llmopt.sandbox._tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REQUEST_OVERHEAD,
    text_tokens,
    tool_definition_tokens,
)

from .conftest import EPHEMERAL, MODEL, ONE_HOUR, sdk_client, words

LONG = 1_100  # above MODEL's 1,024-token minimum
QUESTION = "What is cached?"
QUESTION_TOKENS = MESSAGE_OVERHEAD + text_tokens(QUESTION)


def split(usage: Usage) -> tuple[int, int, int]:
    """(read, written, uncached) input tokens."""
    return (
        usage.cache_read_input_tokens or 0,
        usage.cache_creation_input_tokens or 0,
        usage.input_tokens,
    )


def cached_system(tokens: int = LONG, control: Any = EPHEMERAL) -> Any:
    return [{"type": "text", "text": words(tokens), "cache_control": control}]


def ask(client: anthropic.Anthropic, model: str = MODEL, **request: Any) -> Usage:
    request.setdefault("messages", [{"role": "user", "content": QUESTION}])
    request.setdefault("max_tokens", 20)
    return client.messages.create(model=model, **request).usage


def test_a_second_identical_request_reads_what_the_first_wrote(
    client: anthropic.Anthropic,
) -> None:
    first = ask(client, system=cached_system())
    second = ask(client, system=cached_system())

    uncached = QUESTION_TOKENS + REQUEST_OVERHEAD
    assert split(first) == (0, LONG, uncached)
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == LONG
    assert first.cache_creation.ephemeral_1h_input_tokens == 0
    assert split(second) == (LONG, 0, uncached)


@pytest.mark.parametrize(
    ("model", "minimum"),
    [("claude-sonnet-4-6", 1_024), ("claude-opus-4-7", 2_048), ("claude-haiku-4-5", 4_096)],
)
def test_a_prefix_below_the_models_minimum_caches_nothing_silently(
    client: anthropic.Anthropic, model: str, minimum: int
) -> None:
    short = [ask(client, model, system=cached_system(minimum - 1)) for _ in range(2)]
    enough = [ask(client, model, system=cached_system(minimum)) for _ in range(2)]

    uncached = QUESTION_TOKENS + REQUEST_OVERHEAD
    assert [split(u) for u in short] == [(0, 0, minimum - 1 + uncached)] * 2
    assert [split(u) for u in enough] == [(0, minimum, uncached), (minimum, 0, uncached)]


class TestPrefixOrder:
    """Tools, then system, then messages: a change invalidates its level and the rest."""

    TOOL: Any = {
        "name": "lookup",
        "description": words(LONG, "search"),
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        "cache_control": EPHEMERAL,
    }
    SYSTEM_TOKENS = 500
    MESSAGE_TOKENS = 300

    def request(self, *, tool: str = "", system: str = "", message: str = "") -> dict[str, Any]:
        return {
            "tools": [{**self.TOOL, "description": self.TOOL["description"] + tool}],
            "system": [
                {
                    "type": "text",
                    "text": words(self.SYSTEM_TOKENS, "rule") + system,
                    "cache_control": EPHEMERAL,
                }
            ],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": words(self.MESSAGE_TOKENS, "ask") + message,
                            "cache_control": EPHEMERAL,
                        }
                    ],
                }
            ],
        }

    @property
    def levels(self) -> tuple[int, int, int]:
        tools = tool_definition_tokens(self.TOOL)
        return tools, self.SYSTEM_TOKENS, MESSAGE_OVERHEAD + self.MESSAGE_TOKENS

    def test_an_identical_request_reads_all_three_levels(self, client: anthropic.Anthropic) -> None:
        tools, system, messages = self.levels
        assert split(ask(client, **self.request())) == (0, tools + system + messages, 4)
        assert split(ask(client, **self.request())) == (tools + system + messages, 0, 4)

    def test_changing_the_last_message_keeps_tools_and_system(
        self, client: anthropic.Anthropic
    ) -> None:
        tools, system, messages = self.levels
        ask(client, **self.request())

        usage = ask(client, **self.request(message=" again"))

        assert split(usage) == (tools + system, messages + 1, REQUEST_OVERHEAD)

    def test_changing_the_system_prompt_keeps_only_the_tools(
        self, client: anthropic.Anthropic
    ) -> None:
        tools, system, messages = self.levels
        ask(client, **self.request())

        usage = ask(client, **self.request(system=" also"))

        assert split(usage) == (tools, system + 1 + messages, REQUEST_OVERHEAD)

    def test_changing_a_tool_invalidates_everything(self, client: anthropic.Anthropic) -> None:
        tools, system, messages = self.levels
        ask(client, **self.request())

        usage = ask(client, **self.request(tool=" more"))

        assert split(usage) == (0, tools + 1 + system + messages, REQUEST_OVERHEAD)

    def test_changing_tool_choice_invalidates_the_messages_only(
        self, client: anthropic.Anthropic
    ) -> None:
        tools, system, messages = self.levels
        ask(client, **self.request())

        usage = ask(client, **self.request(), tool_choice={"type": "none"})

        assert split(usage) == (tools + system, messages, REQUEST_OVERHEAD)

    def test_changing_thinking_settings_invalidates_the_messages_only(
        self, client: anthropic.Anthropic
    ) -> None:
        tools, system, messages = self.levels
        ask(client, **self.request())

        thinking: Any = {"type": "enabled", "budget_tokens": 1_024}
        usage = ask(client, **self.request(), thinking=thinking, max_tokens=2_000)

        assert split(usage) == (tools + system, messages, REQUEST_OVERHEAD)

    def test_adding_an_image_invalidates_the_messages_only(
        self, client: anthropic.Anthropic
    ) -> None:
        tools, system, messages = self.levels
        ask(client, **self.request())
        request = self.request()
        image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
        request["messages"][0]["content"].append(image)

        usage = ask(client, **request)

        assert split(usage) == (tools + system, messages, IMAGE_TOKENS + REQUEST_OVERHEAD)

    def test_moving_a_marker_does_not_change_what_is_cached(
        self, client: anthropic.Anthropic
    ) -> None:
        tools, system, messages = self.levels
        ask(client, **self.request())
        request = self.request()
        request["system"][0]["cache_control"] = ONE_HOUR
        request["tools"][0]["cache_control"] = ONE_HOUR

        usage = ask(client, **request)

        assert split(usage) == (tools + system + messages, 0, REQUEST_OVERHEAD)


class TestLookback:
    """A breakpoint finds an earlier entry at most 20 blocks back."""

    @staticmethod
    def request(blocks: int) -> dict[str, Any]:
        content: Any = [{"type": "text", "text": f"note {i}"} for i in range(blocks)]
        content[-1]["cache_control"] = EPHEMERAL
        return {
            "system": [{"type": "text", "text": words(LONG)}],
            "messages": [{"role": "user", "content": content}],
        }

    @staticmethod
    def prefix(blocks: int) -> int:
        return LONG + MESSAGE_OVERHEAD + 2 * blocks

    def test_a_breakpoint_twenty_blocks_on_reads_the_earlier_entry(
        self, client: anthropic.Anthropic
    ) -> None:
        ask(client, **self.request(5))

        usage = ask(client, **self.request(25))

        assert split(usage) == (self.prefix(5), self.prefix(25) - self.prefix(5), 4)

    def test_a_breakpoint_twenty_one_blocks_on_misses(self, client: anthropic.Anthropic) -> None:
        ask(client, **self.request(5))

        usage = ask(client, **self.request(26))

        assert split(usage) == (0, self.prefix(26), REQUEST_OVERHEAD)

    def test_a_second_breakpoint_bridges_a_longer_gap(self, client: anthropic.Anthropic) -> None:
        ask(client, **self.request(5))
        request = self.request(40)
        request["messages"][0]["content"][19]["cache_control"] = EPHEMERAL

        usage = ask(client, **request)

        assert split(usage) == (self.prefix(5), self.prefix(40) - self.prefix(5), 4)


class TestLifetimes:
    def test_a_five_minute_entry_expires_unless_read(
        self, client: anthropic.Anthropic, clock: ManualClock
    ) -> None:
        ask(client, system=cached_system())
        clock.advance(299)
        read = ask(client, system=cached_system())  # refreshes the lifetime
        clock.advance(299)
        refreshed = ask(client, system=cached_system())
        clock.advance(300)
        expired = ask(client, system=cached_system())

        assert split(read)[0] == split(refreshed)[0] == LONG
        assert split(expired)[:2] == (0, LONG)

    def test_a_one_hour_entry_outlives_five_minutes(
        self, client: anthropic.Anthropic, clock: ManualClock
    ) -> None:
        ask(client, system=cached_system(control=ONE_HOUR))
        clock.advance(3_599)
        within = ask(client, system=cached_system(control=ONE_HOUR))
        clock.advance(3_600)
        after = ask(client, system=cached_system(control=ONE_HOUR))

        assert split(within)[:2] == (LONG, 0)
        assert split(after)[:2] == (0, LONG)
        assert after.cache_creation is not None
        assert after.cache_creation.ephemeral_1h_input_tokens == LONG

    def test_mixed_lifetimes_split_the_write_by_ttl(
        self, client: anthropic.Anthropic, clock: ManualClock
    ) -> None:
        messages: Any = [
            {
                "role": "user",
                "content": [{"type": "text", "text": words(200), "cache_control": EPHEMERAL}],
            }
        ]
        first = ask(client, system=cached_system(control=ONE_HOUR), messages=messages)
        clock.advance(301)
        later = ask(client, system=cached_system(control=ONE_HOUR), messages=messages)

        message = MESSAGE_OVERHEAD + 200
        assert first.cache_creation is not None and later.cache_creation is not None
        assert first.cache_creation.model_dump() == {
            "ephemeral_1h_input_tokens": LONG,
            "ephemeral_5m_input_tokens": message,
        }
        assert split(first) == (0, LONG + message, REQUEST_OVERHEAD)
        assert split(later) == (LONG, message, REQUEST_OVERHEAD)
        assert later.cache_creation.model_dump() == {
            "ephemeral_1h_input_tokens": 0,
            "ephemeral_5m_input_tokens": message,
        }


def test_automatic_caching_moves_the_breakpoint_to_the_last_block(
    client: anthropic.Anthropic,
) -> None:
    system: Any = [{"type": "text", "text": words(LONG)}]
    turn_one: Any = [{"role": "user", "content": QUESTION}]
    first = ask(client, system=system, messages=turn_one, cache_control=EPHEMERAL)
    turn_two: Any = [
        *turn_one,
        {"role": "assistant", "content": "It is."},
        {"role": "user", "content": "And now?"},
    ]
    second = ask(client, system=system, messages=turn_two, cache_control=EPHEMERAL)

    assert split(first) == (0, LONG + QUESTION_TOKENS, REQUEST_OVERHEAD)
    added = 2 * MESSAGE_OVERHEAD + text_tokens("It is.") + text_tokens("And now?")
    assert split(second) == (LONG + QUESTION_TOKENS, added, REQUEST_OVERHEAD)


def test_entries_belong_to_their_api_key(sandbox: SandboxServer) -> None:
    usages = []
    for key in ("key-one", "key-two", "key-one"):
        with sdk_client(sandbox.base_url, api_key=key, max_retries=0) as client:
            usages.append(ask(client, system=cached_system()))

    assert [split(u)[:2] for u in usages] == [(0, LONG), (0, LONG), (LONG, 0)]


def test_concurrent_identical_requests_all_write_until_one_response_has_started(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool, sandbox.hold_responses() as held:
        pending = [pool.submit(ask, client, system=cached_system()) for _ in range(2)]
        held.wait_until_waiting(2)
        held.release()
        together = [f.result(timeout=10) for f in pending]
    after = ask(client, system=cached_system())

    assert [split(u)[:2] for u in together] == [(0, LONG), (0, LONG)]
    assert split(after)[:2] == (LONG, 0)
    assert sandbox.billing().total.cache_write_5m_tokens == 2 * LONG


def test_chat_anthropic_sees_cache_reads_in_usage_metadata(sandbox: SandboxServer) -> None:
    model = ChatAnthropic(  # type: ignore[call-arg]
        model=MODEL, base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0
    )
    prompt = [
        SystemMessage(content=[{"type": "text", "text": words(LONG), "cache_control": EPHEMERAL}]),
        HumanMessage(content=QUESTION),
    ]

    model.invoke(prompt)
    reply = model.invoke(prompt)

    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_token_details"].get("cache_read") == LONG
    assert reply.usage_metadata["input_tokens"] == LONG + QUESTION_TOKENS + REQUEST_OVERHEAD
