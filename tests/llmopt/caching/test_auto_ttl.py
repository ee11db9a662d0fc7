"""cacheTTL "auto": a prefix that comes back after more than 5 minutes is written for an
hour; one that comes back sooner keeps 5 minutes; 1h breakpoints never follow 5m ones."""

from __future__ import annotations

from llmopt.caching import PrefixMemory

from .conftest import (
    SYSTEM,
    FakeClock,
    config,
    locations,
    plan,
    request,
    ttl_order_is_valid,
    ttls,
    user,
    words,
)

AUTO = config(cacheTTL="auto")


def test_a_system_prompt_back_after_seven_minutes_is_written_for_an_hour_then_read(
    memory: PrefixMemory, clock: FakeClock
) -> None:
    first = plan(request([user("q1")]), memory=memory, config=AUTO)
    clock.advance(7 * 60)
    back = plan(request([user("q2")]), memory=memory, config=AUTO)
    clock.advance(7 * 60)
    later = plan(request([user("q3")]), memory=memory, config=AUTO)

    assert ttls(first.payload) == ["5m"]  # nothing known of its gaps yet
    assert ttls(back.payload) == ["1h"]
    assert "came back after 7 minutes" in back.breakpoints[0].reason
    assert later.missed_read_tokens == 0  # the 1h entry is still there: a read
    assert back.missed_read_tokens > 3_000  # the 5m entry had expired: paid again


def test_a_prompt_back_within_five_minutes_keeps_five_minutes(
    memory: PrefixMemory, clock: FakeClock
) -> None:
    for n in range(4):
        result = plan(request([user(f"q{n}")]), memory=memory, config=AUTO)
        assert ttls(result.payload) == ["5m"]
        clock.advance(4 * 60)


def test_a_fixed_lifetime_ignores_gaps(memory: PrefixMemory, clock: FakeClock) -> None:
    plan(request([user("q1")]), memory=memory)
    clock.advance(7 * 60)
    back = plan(request([user("q2")]), memory=memory)

    assert ttls(back.payload) == ["5m"]  # cacheTTL 300 is a fixed choice


def test_a_fixed_system_lifetime_stays_fixed_under_auto(
    memory: PrefixMemory, clock: FakeClock
) -> None:
    options = {"config": config(cacheTTL="auto", cacheSystemTTL=300), "memory": memory}
    plan(request([user("q1")]), **options)
    clock.advance(7 * 60)

    assert ttls(plan(request([user("q2")]), **options).payload) == ["5m"]


def test_an_earlier_breakpoint_becomes_1h_when_a_later_one_is(
    memory: PrefixMemory, clock: FakeClock
) -> None:
    document = words(3_000, "doc")

    def ask(question: str) -> list[str]:
        turn = user([{"type": "text", "text": document}, {"type": "text", "text": question}])
        return ttls(plan(request([turn]), memory=memory, config=AUTO).payload)

    ask("first question")
    for n in range(4):  # the system prompt keeps coming, the document does not
        clock.advance(100)
        plan(request([user(f"other {n}")]), memory=memory, config=AUTO)
    clock.advance(100)
    result = plan(
        request([user([{"type": "text", "text": document}, {"type": "text", "text": "again"}])]),
        memory=memory,
        config=AUTO,
    )

    assert locations(result.payload)[:2] == ["system[0]", "messages[0].content[0]"]
    assert ttls(result.payload)[:2] == ["1h", "1h"]  # the new question's end may stay 5m
    assert ttl_order_is_valid(result.payload)
    assert "a 1h one may not follow a 5m one" in result.breakpoints[0].reason


def test_auto_where_the_model_offers_only_five_minutes_plans_five_minutes(
    memory: PrefixMemory, clock: FakeClock
) -> None:
    from llmopt.providers import ProviderCapabilities

    bedrock = ProviderCapabilities.detect("bedrock", "anthropic.claude-sonnet-4-5")
    options = {"memory": memory, "config": AUTO, "capabilities": bedrock}
    plan(request([user("q1")]), **options)
    clock.advance(7 * 60)

    assert set(ttls(plan(request([user("q2")]), **options).payload)) <= {"5m"}


def test_one_off_writes_that_expire_unread_are_counted_once(
    memory: PrefixMemory, clock: FakeClock
) -> None:
    written = plan(request([user("q")], system="Persona A. " + SYSTEM), memory=memory)
    assert locations(written.payload) == ["system[0]"]  # nothing learned yet: it may pay
    clock.advance(301)

    found = plan(request([user("q")], system="Persona B. " + SYSTEM), memory=memory)
    later = plan(request([user("q")], system="Persona C. " + SYSTEM), memory=memory)

    assert found.unread_write_tokens_5m == written.breakpoints[0].prefix_tokens
    assert found.unread_write_tokens_1h == 0
    assert later.unread_write_tokens_5m == 0


def test_a_write_that_was_read_is_not_counted(memory: PrefixMemory, clock: FakeClock) -> None:
    plan(request([user("q1")]), memory=memory)
    plan(request([user("q2")]), memory=memory)  # reads it
    clock.advance(600)

    assert plan(request([user("q3")]), memory=memory).unread_write_tokens_5m == 0


def test_the_second_sighting_of_a_prompt_left_unmarked_is_a_read_missed(
    memory: PrefixMemory,
) -> None:
    for n in range(3):  # one-off prompts: new ones stop being written
        plan(request([user("q")], system=f"Persona {n}. " + SYSTEM), memory=memory)
    new = plan(request([user("q")], system="Persona 9. " + SYSTEM), memory=memory)
    again = plan(request([user("q2")], system="Persona 9. " + SYSTEM), memory=memory)
    read = plan(request([user("q3")], system="Persona 9. " + SYSTEM), memory=memory)

    assert locations(new.payload) == [] and new.missed_read_tokens == 0
    assert again.missed_read_tokens == again.breakpoints[0].prefix_tokens
    assert read.missed_read_tokens == 0
