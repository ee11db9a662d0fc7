from __future__ import annotations

import copy
from typing import Any

import pytest

from llmopt.caching import BREAKPOINT_LITERAL

from .conftest import SYSTEM, TOOLS, assistant, config, plan, request, user, words


def _structure(value: Any) -> Any:
    """The value with the identity of every container, to catch in-place edits."""
    if isinstance(value, dict):
        return (id(value), {key: _structure(item) for key, item in value.items()})
    if isinstance(value, list):
        return (id(value), [_structure(item) for item in value])
    return value


def _busy_request() -> dict[str, Any]:
    call = {"type": "tool_use", "id": "toolu_1", "name": "lookup_0", "input": {"id": "7"}}
    output = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{"type": "text", "text": "found" + BREAKPOINT_LITERAL, "cache_control": {}}],
    }
    return request(
        [
            user(words(600, "context") + BREAKPOINT_LITERAL + "question"),
            assistant(
                [
                    {"type": "thinking", "thinking": "hmm", "signature": "s", "cache_control": {}},
                    {"type": "text", "text": "Let me look.", "cache_control": {"ttl": "1h"}},
                    call,
                ]
            ),
            user([output, {"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}]),
            assistant("It is record 7."),
            user([{"type": "text", "text": "Thanks" + BREAKPOINT_LITERAL}]),
        ],
        system=[{"type": "text", "text": SYSTEM, "cache_control": {"ttl": "1h"}}],
        tools=[*TOOLS[:2], {**TOOLS[2], "cache_control": {"type": "ephemeral"}}],
        cache_control={"type": "ephemeral", "ttl": "1h"},
    )


@pytest.mark.parametrize("mode", ["auto", "system_only", "manual"])
@pytest.mark.parametrize("ttl", [300, 3600])
def test_the_callers_request_and_everything_in_it_are_left_as_they_were(
    mode: str, ttl: int
) -> None:
    payload = _busy_request()
    snapshot = copy.deepcopy(payload)
    structure = _structure(payload)

    result = plan(payload, config=config(cacheBreakpoints=mode, cacheTTL=ttl))

    assert result.changed
    assert payload == snapshot
    assert _structure(payload) == structure


def test_only_the_containers_on_the_path_to_an_edit_are_copied() -> None:
    history = [user(f"question {n}") if n % 2 == 0 else assistant(f"answer {n}") for n in range(9)]
    payload = request(history, tools=TOOLS)

    result = plan(payload)

    assert result.payload is not payload
    assert result.payload["tools"] is payload["tools"]
    assert result.payload["messages"] is not payload["messages"]
    new, old = result.payload["messages"], payload["messages"]
    assert all(new[n] is old[n] for n in range(8))
    assert new[8] is not old[8]
    assert old[8]["content"] == "question 8"
