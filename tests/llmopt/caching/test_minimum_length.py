from __future__ import annotations

import math

import pytest

from llmopt.caching._tokens import SAFETY_MARGIN

from .conftest import assistant, config, locations, plan, request, user, words


@pytest.mark.parametrize(
    ("model", "minimum"),
    [
        ("claude-sonnet-4-5", 1_024),
        ("claude-haiku-3-5", 2_048),
        ("claude-opus-4-5", 4_096),
        ("claude-opus-5", 512),
    ],
)
@pytest.mark.parametrize(
    ("share", "marked"),
    [(0.5, False), (1.0, False), (SAFETY_MARGIN, True), (1.5, True)],
)
def test_the_system_is_marked_only_when_it_reaches_the_models_minimum_with_a_margin(
    model: str, minimum: int, share: float, marked: bool
) -> None:
    system = words(math.ceil(minimum * share))

    result = plan(request([user("Hi")], system=system, model=model), model=model)

    assert locations(result.payload) == (["system[0]"] if marked else [])
    if not marked:
        assert any(f"{minimum:,}-token minimum" in d for d in result.decisions)


def test_a_conversation_below_the_minimum_gets_no_breakpoint() -> None:
    messages = [user("Hi"), assistant("Hello"), user("How are you?")]

    result = plan(request(messages, system="Be brief."))

    assert locations(result.payload) == []
    assert result.changed is False


def test_the_prefix_counts_tools_system_and_earlier_messages() -> None:
    # Neither part reaches 1,024 tokens alone; the conversation's end does.
    messages = [user(words(400)), assistant(words(300)), user(words(400))]

    result = plan(request(messages, system=words(300)))

    assert locations(result.payload) == ["messages[2].content[0]"]
    assert result.breakpoints[0].prefix_tokens == 1_400


def test_an_image_counts_as_a_fixed_number_of_tokens() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}
    messages = [user([image, image]), assistant("Two images."), user("Compare them.")]

    result = plan(request(messages, system=None))

    assert locations(result.payload) == ["messages[2].content[0]"]


def test_an_unknown_model_gets_no_breakpoints_at_all() -> None:
    payload = request([user("Hi"), assistant("Hello"), user("More")])

    result = plan(payload, model="claude-unknown-1")

    assert result.payload is payload
    assert result.breakpoints == ()


def test_an_entrys_own_minimum_above_the_models_keeps_shorter_prefixes_unmarked() -> None:
    system = words(3_000)  # above Sonnet's 1,024-token minimum, below the entry's floor
    payload = request([user("Hi")], system=system)

    default = plan(payload)
    floored = plan(payload, config=config(cacheMinTokens=8_000))

    assert locations(default.payload) == ["system[0]"]
    assert locations(floored.payload) == []
    assert any("this entry's cacheMinTokens of 8,000" in d for d in floored.decisions)


def test_an_entrys_minimum_below_the_models_changes_nothing() -> None:
    payload = request([user("Hi")], system=words(600))  # below Sonnet's minimum

    result = plan(payload, config=config(cacheMinTokens=100))

    assert locations(result.payload) == []
    assert any("1,024-token minimum" in d for d in result.decisions)


def test_the_callers_own_markers_are_kept_whatever_the_entrys_minimum() -> None:
    system = [{"type": "text", "text": words(3_000), "cache_control": {"type": "ephemeral"}}]

    result = plan(request([user("Hi")], system=system), config=config(cacheMinTokens=50_000))

    assert locations(result.payload) == ["system[0]"]
