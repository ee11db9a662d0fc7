"""Free text people type (the reason for a change, a name): bounded, and free of characters
that control or disguise how it is shown. One rule, in the core, for every writer."""

from __future__ import annotations

import pytest

from llmopt.config import load_document, update_entry_flags
from llmopt.errors import ConfigError
from llmopt.killswitch import engage_kill_switch, read_kill_switch, release_kill_switch
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

KEY = "anthropic:claude-sonnet-4-5"

BAD_REASONS = [
    pytest.param("x" * 501, "at most 500 characters (got 501)", id="too-long"),
    pytest.param("x" * 1_000_000, "at most 500 characters (got 1,000,000)", id="a-megabyte"),
    pytest.param("ok\x00then", "U+0000", id="nul"),
    pytest.param("line\nbreak", "U+000A", id="newline"),
    pytest.param("tab\there", "U+0009", id="tab"),
    pytest.param("del\x7f", "U+007F", id="delete"),
    pytest.param("c1\x85", "U+0085", id="c1-next-line"),
    pytest.param("invoice\u202efdp.exe", "U+202E", id="right-to-left-override"),
    pytest.param("a\u202ab", "U+202A", id="left-to-right-embedding"),
    pytest.param("a\u2066b\u2069", "U+2066", id="left-to-right-isolate"),
    pytest.param("a\u2069", "U+2069", id="pop-directional-isolate"),
    pytest.param("lone \ud800 surrogate", "U+D800", id="lone-surrogate"),
]


@pytest.fixture
def store() -> SQLiteStore:
    store = SQLiteStore(":memory:")
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [{"provider": "anthropic", "configuration": {"model": "claude-sonnet-4-5"}}]},
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="test")
    return store


@pytest.mark.parametrize(("reason", "says"), BAD_REASONS)
def test_a_flag_edit_with_a_bad_reason_is_refused_and_nothing_is_written(
    store: SQLiteStore, reason: str, says: str
) -> None:
    before = store.list_audit(limit=100)
    with pytest.raises(ConfigError) as caught:
        update_entry_flags(
            store,
            KEY,
            {"cacheTTL": 3600},
            expected_revision=load_document(store).revision or "",
            actor="alice",
            reason=reason,
        )
    [problem] = caught.value.problems
    assert problem.field == "reason" and says in problem.message
    assert store.list_audit(limit=100) == before


@pytest.mark.parametrize(("reason", "says"), BAD_REASONS)
def test_the_kill_switch_refuses_a_bad_reason_and_stays_as_it_was(
    store: SQLiteStore, reason: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        engage_kill_switch(store, actor="alice", reason=reason)
    assert says in caught.value.problems[0].message
    assert read_kill_switch(store).engaged is False
    with pytest.raises(ConfigError):
        release_kill_switch(store, actor="alice", reason=reason)


def test_ordinary_text_is_accepted_whatever_its_script(store: SQLiteStore) -> None:
    reason = "Überlauf — see INC-42: 顧客の要望 / עברית ok 👍 " + "x" * 450
    engage_kill_switch(store, actor="alice", reason=reason[:500])
    assert read_kill_switch(store).reason == reason[:500]


def test_the_sentence_starts_with_the_name_the_caller_gives_the_field() -> None:
    from llmopt.config import NAME_MAX_LENGTH, free_text_problem

    assert free_text_problem("fine", field="Reason", max_length=10) is None
    assert free_text_problem("x" * 11, field="Reason", max_length=10) == (
        "Reason must be at most 10 characters (got 11)"
    )
    assert free_text_problem("ci\u202eops", field="--name", max_length=NAME_MAX_LENGTH) == (
        "--name must not contain control or bidirectional-override characters "
        "(found U+202E at character 3)"
    )
    assert free_text_problem(42, field="reason", max_length=10) == "reason must be text"


def test_the_schema_pattern_accepts_and_refuses_what_the_rule_does() -> None:
    import re

    from llmopt.config import REFUSED_CHARACTERS_PATTERN

    for _value, _says in [p.values for p in BAD_REASONS[2:]]:
        assert re.fullmatch(REFUSED_CHARACTERS_PATTERN, str(_value)) is None
    assert re.fullmatch(REFUSED_CHARACTERS_PATTERN, "Überlauf — INC-42 👍")
