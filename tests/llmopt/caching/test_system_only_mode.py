from __future__ import annotations

from .conftest import (
    SYSTEM,
    TOOLS,
    assistant,
    config,
    locations,
    plan,
    request,
    user,
    words,
)

SYSTEM_ONLY = config(cacheBreakpoints="system_only")


def test_system_only_marks_the_end_of_the_system_prompt_and_nothing_else() -> None:
    messages = [user(words(2_000)), assistant("ok"), user(words(2_000))]

    result = plan(request(messages, tools=TOOLS), config=SYSTEM_ONLY)

    assert locations(result.payload) == ["system[0]"]
    assert len(result.breakpoints) == 1


def test_system_only_turns_a_string_system_prompt_into_one_marked_text_block() -> None:
    result = plan(request([user("Hi")]), config=SYSTEM_ONLY)

    assert result.payload["system"] == [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]


def test_system_only_marks_the_last_system_block_that_can_carry_a_breakpoint() -> None:
    system = [{"type": "text", "text": SYSTEM}, {"type": "text", "text": " "}]

    result = plan(request([user("Hi")], system=system), config=SYSTEM_ONLY)

    assert locations(result.payload) == ["system[0]"]


def test_system_only_marks_the_end_of_the_tools_when_there_is_no_system() -> None:
    tools = [{**tool, "description": words(500)} for tool in TOOLS]

    result = plan(request([user("Hi")], system=None, tools=tools), config=SYSTEM_ONLY)

    assert locations(result.payload) == ["tools[2]"]


def test_system_only_places_nothing_when_system_and_tools_are_too_short() -> None:
    payload = request([user(words(3_000))], system="Be brief.", tools=TOOLS)

    result = plan(payload, config=SYSTEM_ONLY)

    assert result.payload is payload


def test_system_only_places_nothing_without_system_or_tools() -> None:
    result = plan(request([user(words(3_000))], system=None), config=SYSTEM_ONLY)

    assert locations(result.payload) == []
    assert any("neither tools nor system" in d for d in result.decisions)
