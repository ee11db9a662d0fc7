from __future__ import annotations

from typing import Any

from llmopt.caching import BREAKPOINT_LITERAL

from .conftest import SYSTEM, assistant, config, locations, plan, request, user, words

MANUAL = config(cacheBreakpoints="manual")
MARK = {"type": "ephemeral"}


def test_manual_mode_marks_only_where_the_text_asks() -> None:
    messages = [user(words(2_000, "notes") + BREAKPOINT_LITERAL), assistant("ok"), user("More")]

    result = plan(request(messages), config=MANUAL)

    assert locations(result.payload) == ["messages[0].content[0]"]
    assert result.payload["messages"][0]["content"] == [
        {"type": "text", "text": words(2_000, "notes"), "cache_control": MARK}
    ]


def test_a_block_with_text_after_the_literal_is_split_there() -> None:
    system = SYSTEM + BREAKPOINT_LITERAL + "Today is Monday."

    result = plan(request([user("Hi")], system=system), config=MANUAL)

    assert result.payload["system"] == [
        {"type": "text", "text": SYSTEM, "cache_control": MARK},
        {"type": "text", "text": "Today is Monday."},
    ]


def test_a_text_block_keeps_its_other_fields_when_split() -> None:
    block = {"type": "text", "text": f"{SYSTEM}{BREAKPOINT_LITERAL}Tail", "extra": 1}

    result = plan(request([user([block])]), config=MANUAL)

    assert result.payload["messages"][0]["content"] == [
        {"type": "text", "text": SYSTEM, "extra": 1, "cache_control": MARK},
        {"type": "text", "text": "Tail", "extra": 1},
    ]


def test_several_literals_split_a_block_into_several_parts() -> None:
    text = f"{SYSTEM}{BREAKPOINT_LITERAL}Part two.{BREAKPOINT_LITERAL}Part three."

    result = plan(request([user("Hi")], system=[{"type": "text", "text": text}]), config=MANUAL)

    assert [block["text"] for block in result.payload["system"]] == [
        SYSTEM,
        "Part two.",
        "Part three.",
    ]
    assert locations(result.payload) == ["system[0]", "system[1]"]


def test_empty_parts_are_dropped_and_a_leading_literal_marks_the_block_before() -> None:
    messages = [
        user(
            [
                {"type": "text", "text": SYSTEM},
                {"type": "text", "text": " " + BREAKPOINT_LITERAL + "Next"},
            ]
        )
    ]

    result = plan(request(messages, system=None), config=MANUAL)

    assert result.payload["messages"][0]["content"] == [
        {"type": "text", "text": SYSTEM, "cache_control": MARK},
        {"type": "text", "text": "Next"},
    ]


def test_a_message_that_is_only_the_literal_marks_the_end_of_the_message_before() -> None:
    messages = [user(SYSTEM), assistant("ok"), user(BREAKPOINT_LITERAL), assistant("?")]

    result = plan(request(messages, system=None), config=MANUAL)

    assert locations(result.payload) == ["messages[1].content[0]"]
    assert result.payload["messages"][2]["content"] == []


def test_a_literal_in_a_tool_result_is_removed_and_the_tool_result_marked() -> None:
    output: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [
            {"type": "text", "text": words(2_000) + BREAKPOINT_LITERAL},
            {"type": "text", "text": BREAKPOINT_LITERAL},
        ],
    }
    call = {"type": "tool_use", "id": "toolu_1", "name": "lookup_0", "input": {}}
    messages = [user("Go"), assistant([call]), user([output])]

    result = plan(request(messages, system=None), config=MANUAL)

    marked = result.payload["messages"][2]["content"][0]
    assert marked["content"] == [{"type": "text", "text": words(2_000)}]
    assert marked["cache_control"] == MARK


def test_a_literal_in_a_string_tool_result_is_removed() -> None:
    output = {
        "type": "tool_result",
        "tool_use_id": "t",
        "content": words(2_000) + BREAKPOINT_LITERAL,
    }
    messages = [
        user("Go"),
        assistant([{"type": "tool_use", "id": "t", "name": "x", "input": {}}]),
        user([output]),
    ]

    result = plan(request(messages, system=None), config=MANUAL)

    assert result.payload["messages"][2]["content"][0]["content"] == words(2_000)
    assert locations(result.payload) == ["messages[2].content[0]"]


def test_a_literal_on_a_short_prefix_is_removed_but_not_marked() -> None:
    payload = request([user("Short" + BREAKPOINT_LITERAL + "question")], system=None)

    result = plan(payload, config=MANUAL)

    assert locations(result.payload) == []
    assert result.payload["messages"][0]["content"] == [
        {"type": "text", "text": "Short"},
        {"type": "text", "text": "question"},
    ]
    assert payload["messages"][0]["content"] == "Short[CACHE_BREAKPOINT]question"


def test_with_more_literals_than_slots_the_latest_are_kept() -> None:
    parts = [words(1_100, f"part {n}") for n in range(6)]
    system = BREAKPOINT_LITERAL.join(parts) + BREAKPOINT_LITERAL

    result = plan(request([user("Hi")], system=system), config=MANUAL)

    assert locations(result.payload) == ["system[2]", "system[3]", "system[4]", "system[5]"]
    assert sum("no breakpoint slot left" in d for d in result.decisions) == 2


def test_a_caller_marker_on_a_split_block_moves_to_its_last_part() -> None:
    block = {"type": "text", "text": f"{SYSTEM}{BREAKPOINT_LITERAL}Tail", "cache_control": MARK}

    result = plan(request([user([block])], system=None), config=MANUAL)

    assert result.payload["messages"][0]["content"] == [
        {"type": "text", "text": SYSTEM, "cache_control": MARK},
        {"type": "text", "text": "Tail", "cache_control": MARK},
    ]
    assert [b.origin for b in result.breakpoints] == ["planner", "caller"]


def test_a_system_prompt_that_is_only_the_literal_is_dropped() -> None:
    result = plan(request([user("Hi")], system=BREAKPOINT_LITERAL), config=MANUAL)

    assert "system" not in result.payload


def test_manual_mode_places_nothing_without_a_literal() -> None:
    payload = request([user("Hi"), assistant("Hello"), user("More")])

    result = plan(payload, config=MANUAL)

    assert result.payload is payload
