from __future__ import annotations

from typing import Any

import pytest

from llmopt.providers import ProviderCapabilities

from .conftest import (
    SYSTEM,
    TOOLS,
    assistant,
    config,
    locations,
    marker_sites,
    plan,
    request,
    ttls,
    user,
    words,
)

FIVE = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}


def _text(text: str, marker: dict[str, str] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if marker is not None:
        block["cache_control"] = marker
    return block


def _marked_conversation(count: int) -> dict[str, Any]:
    """A request whose caller marked ``count`` user messages."""
    messages: list[dict[str, Any]] = []
    for n in range(count):
        messages += [user([_text(words(300, f"part {n}"), FIVE)]), assistant(f"noted {n}")]
    messages.append(user("Summarise all parts."))
    return request(messages)


@pytest.mark.parametrize("count", [5, 6])
def test_more_than_four_caller_markers_keep_the_latest_four(count: int) -> None:
    result = plan(_marked_conversation(count))

    kept = [f"messages[{2 * n}].content[0]" for n in range(count - 4, count)]
    assert locations(result.payload) == kept
    removed = [d for d in result.decisions if "exceed the limit of 4" in d]
    assert len(removed) == count - 4


def test_four_caller_markers_leave_no_slot_for_the_planner() -> None:
    result = plan(_marked_conversation(4))

    assert len(marker_sites(result.payload)) == 4
    assert all(b.origin == "caller" for b in result.breakpoints)
    assert any("no breakpoint slot left" in d for d in result.decisions)


def test_a_top_level_cache_control_uses_one_of_the_four_slots() -> None:
    payload = _marked_conversation(4)
    payload["cache_control"] = {"type": "ephemeral"}

    result = plan(payload)

    assert locations(result.payload) == [
        "messages[2].content[0]",
        "messages[4].content[0]",
        "messages[6].content[0]",
        "cache_control",
    ]


def test_caller_markers_are_kept_where_they_are_and_the_planner_adds_its_own() -> None:
    payload = request(
        [user([_text(words(200, "background"), FIVE), _text("Question?")])],
        tools=[*TOOLS[:2], {**TOOLS[2], "cache_control": FIVE}],
    )

    result = plan(payload)

    assert locations(result.payload) == ["tools[2]", "system[0]", "messages[0].content[0]"]
    assert [b.origin for b in result.breakpoints] == ["caller", "planner", "caller"]


def test_a_caller_marker_where_the_planner_would_mark_is_not_duplicated() -> None:
    payload = request([user("Hi")], system=[_text(SYSTEM, FIVE)])

    result = plan(payload)

    assert locations(result.payload) == ["system[0]"]
    assert result.changed is False
    assert result.payload is payload
    assert [b.origin for b in result.breakpoints] == ["caller"]


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        ({"type": "thinking", "thinking": "hmm", "signature": "s"}, "thinking"),
        ({"type": "redacted_thinking", "data": "xyz"}, "redacted thinking"),
        ({"type": "text", "text": ""}, "empty text"),
        ({"type": "text", "text": "  \n"}, "empty text"),
    ],
)
def test_caller_markers_on_blocks_that_cannot_carry_one_are_removed(
    block: dict[str, Any], reason: str
) -> None:
    marked = {**block, "cache_control": FIVE}
    payload = request([user("Hi"), assistant([marked, _text("Hello")]), user("More")])

    result = plan(payload)

    assert "cache_control" not in result.payload["messages"][1]["content"][0]
    assert "messages[1].content[0]" not in locations(result.payload)
    assert any(reason in d and "removed" in d for d in result.decisions)


def test_a_caller_marker_on_an_empty_system_block_is_removed() -> None:
    payload = request([user("Hi")], system=[_text(SYSTEM), _text("", FIVE)])

    result = plan(payload)

    assert locations(result.payload) == ["system[0]"]


def test_a_caller_marker_on_an_empty_text_inside_a_tool_result_is_removed() -> None:
    result_block = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [_text(words(50)), _text("", FIVE)],
    }
    call = {"type": "tool_use", "id": "toolu_1", "name": "lookup_0", "input": {}}
    payload = request([user("Go"), assistant([call]), user([result_block])])

    result = plan(payload)

    assert locations(result.payload) == ["system[0]", "messages[2].content[0]"]


def test_markers_on_code_execution_calls_and_their_results_are_removed_and_never_placed() -> None:
    call = {
        "type": "tool_use",
        "id": "toolu_ce",
        "name": "lookup_0",
        "input": {},
        "caller": {"type": "code_execution_20250825", "tool_id": "srvtoolu_1"},
        "cache_control": FIVE,
    }
    output = {"type": "tool_result", "tool_use_id": "toolu_ce", "content": "42"}
    payload = request([user("Compute"), assistant([_text("Running."), call]), user([output])])

    result = plan(payload)

    assert locations(result.payload) == ["system[0]", "messages[1].content[0]"]


def test_server_tool_blocks_and_their_caller_markers_pass_through_untouched() -> None:
    search = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": [],
        "cache_control": FIVE,
    }
    payload = request([user("Search"), assistant([search, _text("Found it.")]), user("Thanks")])

    result = plan(payload)

    assert result.payload["messages"][1]["content"][0] is search
    assert "messages[1].content[0]" in locations(result.payload)


def test_a_caller_1h_marker_after_a_5m_one_is_downgraded() -> None:
    payload = request(
        [user([_text(words(100, "a"), FIVE)]), assistant("ok"), user([_text("b", HOUR)])],
    )

    result = plan(payload)

    assert ttls(result.payload) == ["5m", "5m", "5m"]
    assert result.payload["messages"][2]["content"][0]["cache_control"]["ttl"] == "5m"
    assert any("downgraded the caller's 1h marker" in d for d in result.decisions)
    assert payload["messages"][2]["content"][0]["cache_control"] == HOUR


def test_a_top_level_1h_cache_control_after_a_5m_marker_is_downgraded() -> None:
    payload = request([user([_text("a", FIVE)])], cache_control=HOUR)

    result = plan(payload)

    assert result.payload["cache_control"] == {"type": "ephemeral", "ttl": "5m"}


def test_the_planners_1h_breakpoints_are_downgraded_after_a_caller_5m_marker() -> None:
    tools = [*TOOLS[:2], {**TOOLS[2], "cache_control": FIVE}]
    payload = request([user("Hi"), assistant("Hello"), user("More")], tools=tools)

    result = plan(payload, config=config(cacheTTL=3600))

    assert ttls(result.payload) == ["5m", "5m", "5m"]
    assert "5m as it follows a 5m breakpoint" in result.breakpoints[1].reason


def test_the_planners_5m_breakpoints_before_a_caller_1h_marker_become_1h() -> None:
    payload = request([user("Hi"), assistant("Hello"), user([_text("More", HOUR)])])

    result = plan(payload, config=config(cacheTTL=300))

    assert locations(result.payload) == ["system[0]", "messages[2].content[0]"]
    assert ttls(result.payload) == ["1h", "1h"]


def test_without_a_1h_lifetime_the_planner_gives_way_to_a_later_caller_1h_marker() -> None:
    bedrock = ProviderCapabilities.detect("bedrock", "anthropic.claude-sonnet-4-5-v1:0")
    payload = request([user([_text("More", HOUR)])])

    result = plan(payload, capabilities=bedrock)

    assert locations(result.payload) == ["messages[0].content[0]"]
    assert any("may not precede the caller's 1h one" in d for d in result.decisions)


def test_a_1h_configuration_falls_back_to_5m_where_the_provider_offers_only_5m() -> None:
    bedrock = ProviderCapabilities.detect("bedrock", "anthropic.claude-sonnet-4-5-v1:0")

    result = plan(request([user("Hi")]), capabilities=bedrock, config=config(cacheTTL=3600))

    assert ttls(result.payload) == ["5m"]
    assert any("offers no 3600s cache lifetime" in d for d in result.decisions)


def test_caller_markers_are_repaired_even_when_the_models_minimum_is_unknown() -> None:
    unknown_minimum = ProviderCapabilities.detect("anthropic")  # no model: no minimum known
    payload = _marked_conversation(6)

    result = plan(payload, capabilities=unknown_minimum)

    assert len(marker_sites(result.payload)) == 4
    assert all(b.origin == "caller" for b in result.breakpoints)
    assert any("minimum cacheable length" in d and "unknown" in d for d in result.decisions)
