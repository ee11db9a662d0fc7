"""OpenAI's automatic prompt caching in the sandbox, seen through the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import openai
import pytest

from llmopt.sandbox import ManualClock, SandboxServer
from llmopt.sandbox._openai_cache import INACTIVITY_SECONDS, cached_length

from .conftest import MODEL as CLAUDE
from .conftest import sdk_client, words

MODEL = "gpt-5.4-mini"
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
}


def openai_client(server: SandboxServer, api_key: str = "sk-one") -> openai.OpenAI:
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


def cached(
    client: openai.OpenAI, system_tokens: int, question: str = "What now?", **params: Any
) -> int:
    """Send a system prompt the sandbox counts as ``system_tokens`` + 3 (its message
    overhead) and a question; the cached tokens it reports."""
    completion = client.chat.completions.create(
        model=params.pop("model", MODEL),
        messages=[
            {"role": "system", "content": words(system_tokens)},
            {"role": "user", "content": question},
        ],
        **params,
    )
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
    reported = completion.usage.prompt_tokens_details.cached_tokens
    assert reported is not None
    return reported


def test_hits_count_in_128_token_steps_from_1024() -> None:
    assert [cached_length(n) for n in (1023, 1024, 1151, 1152, 1300)] == [0, 1024, 1024, 1152, 1280]


def test_a_repeated_long_prompt_reads_its_prefix_rounded_down_to_a_128_token_step(
    client: openai.OpenAI,
) -> None:
    assert cached(client, 1200) == 0

    # The system message is 1,203 tokens, the question 6 more: 1,209 rounds to 1,152.
    assert cached(client, 1200) == 1152
    assert cached(client, 1200, "Something else entirely?") == 1152


def test_a_prompt_under_1024_tokens_is_never_cached(client: openai.OpenAI) -> None:
    cached(client, 900)

    assert cached(client, 900) == 0


def test_a_prefix_of_exactly_1024_tokens_is_read_whole(client: openai.OpenAI) -> None:
    cached(client, 1021, "First?")

    assert cached(client, 1021, "Second?") == 1024


def test_an_entry_lives_while_used_and_goes_after_ten_idle_minutes(
    client: openai.OpenAI, clock: ManualClock
) -> None:
    cached(client, 1200)
    clock.advance(INACTIVITY_SECONDS - 1)
    assert cached(client, 1200) == 1152  # used: lives another ten minutes
    clock.advance(INACTIVITY_SECONDS - 1)
    assert cached(client, 1200) == 1152

    clock.advance(INACTIVITY_SECONDS + 1)

    assert cached(client, 1200) == 0
    assert INACTIVITY_SECONDS == 600


def test_24h_retention_keeps_entries_through_an_idle_hour(
    client: openai.OpenAI, clock: ManualClock
) -> None:
    cached(client, 1200, extra_body={"prompt_cache_retention": "24h"})
    clock.advance(3600)

    assert cached(client, 1200, extra_body={"prompt_cache_retention": "24h"}) == 1152


def test_prompt_cache_key_is_accepted(client: openai.OpenAI) -> None:
    cached(client, 1200, prompt_cache_key="tenant-7")

    assert cached(client, 1200, prompt_cache_key="tenant-7") == 1152


def test_changing_the_tools_invalidates_the_whole_prefix(client: openai.OpenAI) -> None:
    cached(client, 1200)

    assert cached(client, 1200, tools=[TOOL]) == 0
    assert cached(client, 1200, tools=[TOOL]) > 0


def test_the_structured_output_schema_is_part_of_the_prefix(client: openai.OpenAI) -> None:
    def schema(name: str) -> dict[str, Any]:
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": {"type": "object", "properties": {}}},
        }

    cached(client, 1200, response_format=schema("first"))

    assert cached(client, 1200, response_format=schema("second")) == 0
    assert cached(client, 1200, response_format=schema("second")) == 1152


def test_the_cache_is_kept_per_api_key_and_per_model(sandbox: SandboxServer) -> None:
    with openai_client(sandbox, "sk-one") as one, openai_client(sandbox, "sk-two") as two:
        cached(one, 1200)

        assert cached(two, 1200) == 0
        assert cached(one, 1200, model="gpt-5.4") == 0
        assert cached(one, 1200) == 1152


def test_openai_entries_are_apart_from_anthropics(
    sandbox: SandboxServer, client: openai.OpenAI
) -> None:
    cached(client, 1200)
    cached(client, 1200)

    assert sandbox.cached_entries() == 0  # the Anthropic cache
    assert sandbox.state.openai_cache.live_entries() > 0
    with sdk_client(sandbox.base_url, api_key="sk-one") as anthropic_sdk:
        message = anthropic_sdk.messages.create(
            model=CLAUDE,
            max_tokens=20,
            system=[{"type": "text", "text": words(1200), "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": "What now?"}],
        )
    assert message.usage.cache_read_input_tokens == 0

    sandbox.reset()
    assert sandbox.state.openai_cache.live_entries() == 0


def test_concurrent_identical_requests_all_miss(
    sandbox: SandboxServer, client: openai.OpenAI
) -> None:
    with sandbox.hold_responses() as hold, ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(cached, client, 1200) for _ in range(3)]
        hold.wait_until_waiting(3)
        hold.release()
        results = [f.result(timeout=10) for f in futures]

    assert results == [0, 0, 0]
    assert cached(client, 1200) == 1152


def test_cached_tokens_are_billed_at_the_cached_input_price(
    sandbox: SandboxServer, client: openai.OpenAI
) -> None:
    cached(client, 1200)
    sandbox.reset()  # counters only from here; the cache goes too
    cached(client, 1200)
    cached(client, 1200)

    billed = sandbox.billing().models[MODEL]
    assert billed.cache_read_tokens == 1152
    assert billed.cache_write_5m_tokens == billed.cache_write_1h_tokens == 0
    # gpt-5.4-mini: $0.75 input, $0.075 cached, $4.50 output per million.
    expected = (
        billed.input_tokens * Decimal("0.75")
        + 1152 * Decimal("0.075")
        + billed.output_tokens * Decimal("4.50")
    ) / 10**6
    assert billed.cost_usd == expected
