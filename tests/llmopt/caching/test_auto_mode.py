from __future__ import annotations

from typing import Any

import pytest

from llmopt.caching import LOOKBACK_BLOCKS, PrefixMemory

from .conftest import (
    SYSTEM,
    TOOLS,
    FakeClock,
    assistant,
    locations,
    plan,
    request,
    user,
    words,
)


def test_one_off_requests_sharing_a_system_prompt_mark_only_the_system_never_the_tail(
    memory: PrefixMemory,
) -> None:
    for n in range(6):
        payload = request([user(words(500, f"document {n}: summarise it."))])

        result = plan(payload, memory=memory)

        assert locations(result.payload) == ["system[0]"]
        assert [b.location for b in result.breakpoints] == ["system[0]"]
        assert any("one-off" in decision for decision in result.decisions)


def test_without_memory_a_one_off_request_marks_only_the_system() -> None:
    result = plan(request([user(words(2_000, "a long unique document"))]))

    assert locations(result.payload) == ["system[0]"]


def test_a_request_that_recurs_gets_its_tail_marked_from_the_second_sighting(
    memory: PrefixMemory,
) -> None:
    payload = request([user(words(500, "the same question"))])

    first = plan(payload, memory=memory)
    second = plan(payload, memory=memory)

    assert locations(first.payload) == ["system[0]"]
    assert locations(second.payload) == ["system[0]", "messages[0].content[0]"]
    assert "recurred" in second.breakpoints[-1].reason


def test_a_multi_turn_chat_marks_the_last_message_on_every_turn_with_history(
    memory: PrefixMemory,
) -> None:
    history = [user("Hello, can you help with the quarterly report?")]
    for turn in range(1, 6):
        result = plan(request(history), memory=memory)

        last = f"messages[{len(history) - 1}].content[0]"
        if turn == 1:  # a first message alone is indistinguishable from a one-off request
            assert locations(result.payload) == ["system[0]"]
        else:
            assert locations(result.payload) == ["system[0]", last]
        history = [*history, assistant(f"Answer {turn}."), user(f"Follow-up {turn}?")]


def test_a_chat_is_recognised_without_memory_by_its_earlier_answers() -> None:
    payload = request([user("Hi"), assistant("Hello!"), user("Tell me more.")])

    result = plan(payload)

    assert locations(result.payload) == ["system[0]", "messages[2].content[0]"]
    assert result.payload["messages"][2]["content"] == [
        {"type": "text", "text": "Tell me more.", "cache_control": {"type": "ephemeral"}}
    ]


def test_an_agent_loop_marks_the_latest_tool_result() -> None:
    messages = [
        user("Find the owner of record 7."),
        assistant(
            [
                {"type": "text", "text": "Looking it up."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup_1", "input": {"id": "7"}},
            ]
        ),
        user([{"type": "tool_result", "tool_use_id": "toolu_1", "content": words(3_000)}]),
    ]

    result = plan(request(messages, tools=TOOLS))

    assert locations(result.payload) == ["system[0]", "messages[2].content[0]"]


def test_a_short_static_prefix_is_left_unmarked_but_a_long_conversation_is_marked() -> None:
    messages = [user(words(800, "context")), assistant("ok"), user(words(400, "question"))]

    result = plan(request(messages, system="Be brief."))

    assert locations(result.payload) == ["messages[2].content[0]"]
    assert any("below the 1,024-token minimum" in d for d in result.decisions)


def test_without_a_system_prompt_the_end_of_the_tools_is_marked() -> None:
    tools = [{**tool, "description": words(500)} for tool in TOOLS]

    result = plan(request([user("Which tool fits?")], system=None, tools=tools))

    assert locations(result.payload) == ["tools[2]"]


def test_deferred_tools_are_not_marked() -> None:
    tools = [{**tool, "description": words(700)} for tool in TOOLS]
    tools[2] = {**tools[2], "defer_loading": True}

    result = plan(request([user("Which tool fits?")], system=None, tools=tools))

    assert locations(result.payload) == ["tools[1]"]


def _agent_turn(n: int, results: int) -> list[dict[str, Any]]:
    calls = [
        {"type": "tool_use", "id": f"toolu_{n}_{k}", "name": "lookup_0", "input": {"id": str(k)}}
        for k in range(results)
    ]
    outputs = [
        {"type": "tool_result", "tool_use_id": f"toolu_{n}_{k}", "content": f"record {k}"}
        for k in range(results)
    ]
    return [assistant(calls), user(outputs)]


def test_a_turn_that_adds_more_than_twenty_blocks_re_marks_the_previous_turns_entry(
    memory: PrefixMemory,
) -> None:
    history = [user(words(100, "Check every record."))]
    first = plan(request(history), memory=memory)
    assert locations(first.payload) == ["system[0]"]
    history += _agent_turn(1, 2)
    second = plan(request(history), memory=memory)
    assert locations(second.payload) == ["system[0]", "messages[2].content[1]"]

    history += _agent_turn(2, 12)  # 24 new blocks since the previous breakpoint
    third = plan(request(history), memory=memory)

    assert locations(third.payload) == [
        "system[0]",
        "messages[2].content[1]",
        "messages[4].content[11]",
    ]
    middle = third.breakpoints[1]
    assert middle.origin == "planner"
    assert f"{LOOKBACK_BLOCKS}-block lookback" in middle.reason


def test_a_turn_within_the_lookback_needs_no_extra_breakpoint(memory: PrefixMemory) -> None:
    history = [user("Check records."), *_agent_turn(1, 2)]
    plan(request(history), memory=memory)
    history += _agent_turn(2, 9)  # 18 new blocks

    result = plan(request(history), memory=memory)

    assert locations(result.payload) == ["system[0]", "messages[4].content[8]"]


def test_without_memory_the_previous_breakpoint_is_taken_to_be_before_the_last_answer() -> None:
    history = [user(words(50, "Check every record.")), *_agent_turn(1, 2), *_agent_turn(2, 12)]

    result = plan(request(history))

    assert locations(result.payload) == [
        "system[0]",
        "messages[2].content[1]",
        "messages[4].content[11]",
    ]


def test_the_previous_entry_is_not_re_marked_when_it_was_too_short_to_be_cached() -> None:
    history = [user("Hi"), *_agent_turn(1, 12)]

    result = plan(request(history, system="Be brief."))

    assert locations(result.payload) == []


def test_a_forgotten_entry_is_estimated_again_once_memory_expires(clock: FakeClock) -> None:
    memory = PrefixMemory(clock=clock)
    history = [user("Check every record."), *_agent_turn(1, 2)]
    plan(request(history), memory=memory)
    clock.advance(301)
    history += _agent_turn(2, 12)

    result = plan(request(history), memory=memory)

    # The estimate (just before the last answer) is the same block here.
    assert "messages[2].content[1]" in locations(result.payload)


def test_the_tools_get_their_own_breakpoint_when_the_system_prompt_varies(
    memory: PrefixMemory,
) -> None:
    tools = [{**tool, "description": words(600)} for tool in TOOLS]
    first = plan(request([user("q")], system=SYSTEM + "Customer: Ada.", tools=tools), memory=memory)
    assert locations(first.payload) == ["system[0]"]

    second = plan(
        request([user("q")], system=SYSTEM + "Customer: Bob.", tools=tools), memory=memory
    )

    assert locations(second.payload) == ["tools[2]", "system[0]"]
    assert "another system prompt" in second.breakpoints[0].reason


def test_the_tools_share_the_system_breakpoint_while_the_system_prompt_stays_the_same(
    memory: PrefixMemory,
) -> None:
    tools = [{**tool, "description": words(600)} for tool in TOOLS]
    for question in ("q1", "q2", "q3"):
        result = plan(request([user(question)], tools=tools), memory=memory)

        assert locations(result.payload) == ["system[0]"]


def test_small_tools_get_no_breakpoint_of_their_own_even_when_the_system_varies(
    memory: PrefixMemory,
) -> None:
    plan(request([user("q")], system=SYSTEM + "A", tools=TOOLS), memory=memory)

    result = plan(request([user("q")], system=SYSTEM + "B", tools=TOOLS), memory=memory)

    assert locations(result.payload) == ["system[0]"]


def test_a_prefilled_answer_is_not_marked_the_question_before_it_is() -> None:
    messages = [user("Hi"), assistant("Hello"), user(words(10, "List them")), assistant("1.")]

    result = plan(request(messages))

    assert locations(result.payload) == ["system[0]", "messages[2].content[0]"]


def test_the_tail_breakpoint_skips_thinking_and_server_tool_blocks() -> None:
    messages = [
        user("Hi"),
        assistant([{"type": "thinking", "thinking": "hmm", "signature": "sig"}]),
        user(
            [
                {"type": "text", "text": "Here is what I found."},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "text", "text": "   "},
            ]
        ),
    ]

    result = plan(request(messages))

    assert locations(result.payload) == ["system[0]", "messages[2].content[0]"]


def test_a_top_level_cache_control_takes_the_place_of_the_tail_breakpoint() -> None:
    payload = request(
        [user("Hi"), assistant("Hello"), user("More")], cache_control={"type": "ephemeral"}
    )

    result = plan(payload)

    assert locations(result.payload) == ["system[0]", "cache_control"]
    assert any("top-level cache_control" in decision for decision in result.decisions)


def test_tool_choice_changes_are_a_different_conversation_prefix(memory: PrefixMemory) -> None:
    payload = request([user(words(500, "same question"))])
    plan(payload, memory=memory)

    result = plan({**payload, "tool_choice": {"type": "any"}}, memory=memory)

    assert locations(result.payload) == ["system[0]"]


@pytest.mark.parametrize("ttl", [300, 3600])
def test_the_planners_breakpoints_use_the_configured_lifetime(ttl: int) -> None:
    from .conftest import config, ttls

    payload = request([user("Hi"), assistant("Hello"), user("More")])

    result = plan(payload, config=config(cacheTTL=ttl))

    expected = "1h" if ttl == 3600 else "5m"
    assert ttls(result.payload) == [expected, expected]
    assert [b.ttl for b in result.breakpoints] == [ttl, ttl]


def test_a_request_is_recognised_whatever_markers_it_carries_and_however_text_is_held(
    memory: PrefixMemory,
) -> None:
    payload = request([user(words(500, "the same question"))])
    first = plan(payload, memory=memory)
    assert isinstance(first.payload["system"], list)  # now a marked text block

    again = plan(first.payload, memory=memory)

    assert locations(again.payload) == ["system[0]", "messages[0].content[0]"]
    assert "recurred" in again.breakpoints[-1].reason


def test_no_earlier_breakpoint_is_re_marked_when_memory_knows_nothing_of_it_was_cached(
    memory: PrefixMemory,
) -> None:
    history = [user(words(100, "Check every record."))]
    plan(request(history), memory=memory)  # a one-off so far: its tail was not written
    history += _agent_turn(1, 12)

    with_memory = plan(request(history), memory=memory)
    without_memory = plan(request(history))

    assert locations(with_memory.payload) == ["system[0]", "messages[2].content[11]"]
    assert locations(without_memory.payload) == [
        "system[0]",
        "messages[0].content[0]",
        "messages[2].content[11]",
    ]


def test_a_document_that_recurs_inside_the_user_turn_is_marked_and_then_read(
    memory: PrefixMemory,
) -> None:
    document = {"type": "text", "text": words(3_000, "the shared document")}

    def asking(question: str) -> dict[str, Any]:
        return request([user([document, {"type": "text", "text": question}])])

    first = plan(asking("What is its title?"), memory=memory)
    second = plan(asking("Who wrote it?"), memory=memory)
    third = plan(asking("When was it published?"), memory=memory)

    # Nothing learned yet: a block before a new question comes again half the time.
    assert locations(first.payload) == ["system[0]", "messages[0].content[0]"]
    assert "messages[0].content[0]" in locations(second.payload)
    assert "repeats a recent one" in " ".join(b.reason for b in second.breakpoints)
    assert "messages[0].content[0]" in locations(third.payload)  # now a read
