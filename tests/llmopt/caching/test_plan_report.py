from __future__ import annotations

import logging

import pytest

from llmopt.caching import Breakpoint

from .conftest import TOOLS, assistant, plan, request, user


def test_each_breakpoint_says_where_it_is_how_long_it_lives_and_why() -> None:
    marked_tool = {**TOOLS[2], "cache_control": {"type": "ephemeral"}}
    payload = request(
        [user("Hi"), assistant("Hello"), user("More")], tools=[*TOOLS[:2], marked_tool]
    )

    result = plan(payload)

    assert result.breakpoints == (
        Breakpoint(
            location="tools[2]",
            ttl=300,
            prefix_tokens=result.breakpoints[0].prefix_tokens,
            origin="caller",
            reason="placed by the caller",
        ),
        Breakpoint(
            location="system[0]",
            ttl=300,
            prefix_tokens=result.breakpoints[1].prefix_tokens,
            origin="planner",
            reason="tools and system are shared by every request of this entry",
        ),
        Breakpoint(
            location="messages[2].content[0]",
            ttl=300,
            prefix_tokens=result.breakpoints[2].prefix_tokens,
            origin="planner",
            reason="the next turn reads up to here",
        ),
    )
    tokens = [b.prefix_tokens for b in result.breakpoints]
    assert 0 < tokens[0] < tokens[1] < tokens[2]


def test_every_decision_is_logged_at_debug_level_on_the_caching_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="llmopt.caching"):
        result = plan(request([user("Hi")]))

    logged = [r.getMessage() for r in caplog.records if r.name == "llmopt.caching"]
    assert logged == list(result.decisions)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "llmopt.caching")
    assert len(result.decisions) == 2
