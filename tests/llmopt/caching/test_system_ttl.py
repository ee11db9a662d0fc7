"""cacheSystemTTL (the guide's cache.domain_definitions_ttl_seconds): the prefix lives longer."""

from __future__ import annotations

from dataclasses import replace

from llmopt.caching import PrefixMemory
from llmopt.providers import ProviderCapabilities

from .conftest import (
    MODEL,
    TOOLS,
    assistant,
    config,
    marker_sites,
    plan,
    request,
    ttl_order_is_valid,
    user,
    words,
)


def sites(payload: dict[str, object]) -> list[tuple[str, str]]:
    return [(where, marker.get("ttl", "5m")) for where, marker, _ in marker_sites(payload)]


def test_the_system_prompt_gets_an_hour_and_the_conversation_five_minutes() -> None:
    chat = request([user("Hi"), assistant("Hello!"), user(words(1_500, "tell me more"))])

    result = plan(chat, config=config(cacheTTL=300, cacheSystemTTL=3600))

    assert sites(result.payload) == [("system[0]", "1h"), ("messages[2].content[0]", "5m")]
    assert ttl_order_is_valid(result.payload)
    assert [b.ttl for b in result.breakpoints] == [3600, 300]


def test_the_tools_own_breakpoint_gets_the_system_lifetime_too(memory: PrefixMemory) -> None:
    flags = config(cacheTTL=300, cacheSystemTTL=3600)
    tools = [{**tool, "description": words(600)} for tool in TOOLS]
    for n in range(2):  # the same tools with a system prompt that varies
        payload = request([user("Hi")], system=words(2_000, f"prompt {n}"), tools=tools)
        result = plan(payload, config=flags, memory=memory)

    assert sites(result.payload) == [("tools[2]", "1h"), ("system[0]", "1h")]


def test_without_it_every_breakpoint_gets_the_entrys_lifetime() -> None:
    chat = request([user("Hi"), assistant("Hello!"), user(words(1_500, "tell me more"))])

    result = plan(chat, config=config(cacheTTL=300))

    assert sites(result.payload) == [("system[0]", "5m"), ("messages[2].content[0]", "5m")]


def test_a_model_without_the_hour_falls_back_to_what_it_offers() -> None:
    five_minutes_only = replace(ProviderCapabilities.detect("anthropic", MODEL), cache_ttls=(300,))
    payload = request([user("Hi")])

    result = plan(payload, config=config(cacheSystemTTL=3600), capabilities=five_minutes_only)

    assert sites(result.payload) == [("system[0]", "5m")]
    assert any("offers no 3600s cache lifetime" in d for d in result.decisions)
