from __future__ import annotations

from typing import Any

import pytest

from llmopt.config import AIConfigDocument
from llmopt.errors import RecordNotFound


def document(llm: Any, **other: Any) -> AIConfigDocument:
    return AIConfigDocument({"llm": llm, **other}, revision="7")


def test_entries_are_addressed_by_model_key_or_by_provider_and_model() -> None:
    doc = document(
        [
            {
                "provider": "anthropic",
                "modelKey": "fast",
                "configuration": {"model": "claude-haiku-4-5"},
            },
            {"provider": "openAI", "configuration": {"model": "gpt-4o-mini"}},
        ]
    )
    assert [e.key for e in doc.entries] == ["fast", "openAI:gpt-4o-mini"]
    assert doc.entry("openAI:gpt-4o-mini").index == 1
    with pytest.raises(RecordNotFound):
        doc.entry("missing")


def test_a_malformed_document_gives_clear_per_entry_problems() -> None:
    doc = document(
        [
            "not an entry",
            {"provider": "anthropic"},
            {
                "provider": "anthropic",
                "configuration": {"model": "claude-sonnet-4-5", "cacheTTL": "1h"},
            },
            {"provider": "acme", "configuration": {"model": "m", "optimizationEnabled": True}},
            {"provider": "ollama", "configuration": {"model": "llama3.1"}},
        ]
    )
    problems = [[str(p) for p in entry.problems] for entry in doc.entries]
    assert problems[0] == ["entry 1 must be an object"]
    assert problems[1] == ["configuration is missing"]
    assert problems[2][0].startswith("cacheTTL must be 300 or 3600 seconds")
    assert "'acme' is not a provider llmopt knows" in problems[3][0]
    assert problems[4] == []
    assert [e.config is None for e in doc.entries] == [True, True, True, True, False]


def test_an_llm_field_that_is_not_a_list_is_a_document_problem() -> None:
    doc = document({"provider": "anthropic"})
    assert doc.entries == ()
    assert [str(p) for p in doc.problems] == ["llm must be a list of model entries"]


def test_repeated_entries_get_distinct_keys_and_a_problem() -> None:
    entry = {"provider": "openAI", "configuration": {"model": "gpt-4o"}}
    doc = document([entry, entry])
    assert [e.key for e in doc.entries] == ["openAI:gpt-4o", "openAI:gpt-4o#2"]
    assert "distinct modelKey" in str(doc.entries[1].problems[-1])


def test_reading_never_changes_the_body() -> None:
    body = {"llm": [{"provider": "anthropic", "configuration": {"cacheTTL": 5}}], "embedding": []}
    snapshot = repr(body)
    AIConfigDocument(body, "1").entries  # noqa: B018
    assert repr(body) == snapshot


def test_a_changed_configuration_leaves_everything_else_as_it_was() -> None:
    body = {
        "llm": [
            {"provider": "anthropic", "isDefault": True, "configuration": {"model": "a"}},
            {"provider": "openAI", "configuration": {"model": "b"}},
        ],
        "embedding": [{"provider": "openAI"}],
    }
    new = AIConfigDocument(body, "1").body_with_configuration("openAI:b", {"model": "b", "x": 1})
    assert new["llm"][1] == {"provider": "openAI", "configuration": {"model": "b", "x": 1}}
    assert new["llm"][0] is body["llm"][0]
    assert new["embedding"] == body["embedding"]
    assert body["llm"][1]["configuration"] == {"model": "b"}


def test_the_safe_configuration_masks_the_api_key() -> None:
    doc = document(
        [{"provider": "anthropic", "configuration": {"model": "m", "apiKey": "sk-ant-1"}}]
    )
    assert doc.entries[0].safe_configuration() == {"model": "m", "apiKey": "********"}


def test_an_entry_printed_in_a_traceback_or_log_shows_its_api_key_masked() -> None:
    [entry] = document(
        [{"provider": "anthropic", "configuration": {"model": "m", "apiKey": "sk-ant-hidden"}}]
    ).entries
    text = repr(entry)
    assert "sk-ant-hidden" not in text and str(entry) == text
    assert "'apiKey': '********'" in text and "key='anthropic:m'" in text
