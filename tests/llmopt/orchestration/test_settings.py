from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmopt.config import load_document
from llmopt.errors import ConfigError, ConflictError, RecordNotFound
from llmopt.orchestration._edit import update_orchestration
from llmopt.orchestration._settings import OrchestrationSettings, orchestration_of
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

BODY: dict[str, Any] = {
    "llm": [
        {"provider": "openai", "modelKey": "cheap", "configuration": {"model": "gpt-4o-mini"}},
        {"provider": "openai", "modelKey": "strong", "configuration": {"model": "gpt-4o"}},
        {"provider": "ollama", "modelKey": "local", "configuration": {"model": "llama3.1:8b"}},
    ],
    "embeddings": [{"kept": True}],
}
KEYS = ["cheap", "strong", "local"]


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "s.db")
    store.write_document(
        DocumentName.AI_CONFIG,
        BODY,
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="doc"),
    )
    return store


def revision_of(store: SQLiteStore) -> str:
    revision = load_document(store).revision
    assert revision is not None
    return revision


def problems(raw: Any, **options: Any) -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as caught:
        OrchestrationSettings.from_dict(raw, **options)
    return caught.value.by_field()


# Reading.


def test_no_orchestration_object_means_the_entry_answers_alone() -> None:
    settings = OrchestrationSettings.from_dict(None)
    assert settings.strategy == "single" and not settings.orchestrated
    assert settings.to_dict() == {"strategy": "single"}
    assert orchestration_of(None) == settings
    assert orchestration_of({"model": "gpt-4o"}) == settings


def test_a_cascade_reads_camel_case_and_shows_only_what_it_uses() -> None:
    settings = OrchestrationSettings.from_dict(
        {
            "strategy": "cascade",
            "entries": ["cheap", "strong"],
            "threshold": 0.8,
            "timeoutSeconds": 30,
        }
    )
    assert settings.orchestrated
    assert settings.entries == ("cheap", "strong")
    assert (settings.threshold, settings.timeout_seconds) == (0.8, 30.0)
    assert settings.to_dict() == {
        "strategy": "cascade",
        "entries": ["cheap", "strong"],
        "threshold": 0.8,
        "timeoutSeconds": 30.0,
    }


def test_a_parallel_strategy_shows_no_threshold_method_or_judge() -> None:
    settings = OrchestrationSettings.from_dict({"strategy": "parallel", "entries": KEYS})
    assert settings.to_dict() == {
        "strategy": "parallel",
        "entries": KEYS,
        "timeoutSeconds": 60.0,
    }


def test_consensus_by_judge_shows_the_judge_and_by_majority_does_not() -> None:
    judged = OrchestrationSettings.from_dict(
        {
            "strategy": "consensus",
            "entries": ["cheap", "local"],
            "method": "judge",
            "judge": "strong",
        }
    )
    assert judged.to_dict() == {
        "strategy": "consensus",
        "entries": ["cheap", "local"],
        "method": "judge",
        "judge": "strong",
        "timeoutSeconds": 60.0,
    }
    majority = OrchestrationSettings.from_dict({"strategy": "consensus", "entries": KEYS})
    assert majority.to_dict() == {
        "strategy": "consensus",
        "entries": KEYS,
        "method": "majority",
        "timeoutSeconds": 60.0,
    }


@pytest.mark.parametrize("value", [1, 0])
def test_a_whole_number_threshold_is_as_good_as_a_float(value: int) -> None:
    settings = OrchestrationSettings.from_dict(
        {"strategy": "cascade", "entries": ["cheap", "strong"], "threshold": value}
    )
    assert settings.threshold == float(value)


def test_a_whole_number_timeout_is_accepted() -> None:
    settings = OrchestrationSettings.from_dict(
        {"strategy": "parallel", "entries": ["cheap", "strong"], "timeoutSeconds": 600}
    )
    assert settings.timeout_seconds == 600.0


def test_to_dict_reads_back_as_the_same_settings() -> None:
    settings = OrchestrationSettings.from_dict(
        {"strategy": "cascade", "entries": ["local", "cheap", "strong"], "threshold": 0.55}
    )
    assert OrchestrationSettings.from_dict(settings.to_dict()) == settings


def test_orchestration_of_names_the_entry_in_its_problems() -> None:
    with pytest.raises(ConfigError) as caught:
        orchestration_of({"orchestration": {"strategy": "cascade"}}, key="cheap")
    assert list(caught.value.by_field()) == ["cheap.orchestration.entries"]


# Refused.


TWO = ["cheap", "strong"]
CASCADE: dict[str, Any] = {"strategy": "cascade", "entries": TWO}
PARALLEL: dict[str, Any] = {"strategy": "parallel", "entries": TWO}
CONSENSUS: dict[str, Any] = {"strategy": "consensus", "entries": TWO}
NOT_FOR = "does not apply to strategy"


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ("cascade", "", "must be an object"),
        (["cascade"], "", "must be an object"),
        ({"strategy": "fastest"}, "strategy", "'single'"),
        ({"strategy": "single", "entries": TWO}, "entries", f"{NOT_FOR} 'single'"),
        ({"strategy": "single", "timeoutSeconds": 5}, "timeoutSeconds", f"{NOT_FOR} 'single'"),
        ({**PARALLEL, "threshold": 0.5}, "threshold", f"{NOT_FOR} 'parallel'"),
        ({**PARALLEL, "method": "judge"}, "method", f"{NOT_FOR} 'parallel'"),
        ({**CASCADE, "method": "majority"}, "method", f"{NOT_FOR} 'cascade'"),
        ({**CASCADE, "judge": "local"}, "judge", f"{NOT_FOR} 'cascade'"),
        ({**CONSENSUS, "threshold": 0.5}, "threshold", f"{NOT_FOR} 'consensus'"),
        ({"strategy": "cascade"}, "entries", "needs 2 to 8 entries, got 0"),
        ({**CASCADE, "entries": ["cheap"]}, "entries", "needs 2 to 8 entries, got 1"),
        ({**PARALLEL, "entries": [f"e{i}" for i in range(9)]}, "entries", "got 9"),
        ({**PARALLEL, "entries": [*TWO, "cheap"]}, "entries", "names cheap more than once"),
        ({**CONSENSUS, "method": "judge"}, "judge", "needs the judge entry"),
        ({**CONSENSUS, "judge": "local"}, "judge", "only to method 'judge', not 'majority'"),
        ({**CONSENSUS, "method": "similarity", "judge": "local"}, "judge", "'similarity'"),
        ({**CONSENSUS, "method": "judge", "judge": ""}, "judge", "at least 1 character"),
        ({**CONSENSUS, "method": "vote"}, "method", "'majority'"),
        ({**CASCADE, "threshold": 1.5}, "threshold", "less than or equal to 1"),
        ({**CASCADE, "threshold": -0.1}, "threshold", "greater than or equal to 0"),
        ({**CASCADE, "threshold": True}, "threshold", "valid number"),
        ({**CASCADE, "threshold": "0.5"}, "threshold", "valid number"),
        ({**PARALLEL, "timeoutSeconds": False}, "timeoutSeconds", "valid number"),
        ({**PARALLEL, "timeoutSeconds": 0}, "timeoutSeconds", "greater than 0"),
        ({**PARALLEL, "timeoutSeconds": 601}, "timeoutSeconds", "less than or equal to 600"),
        ({**PARALLEL, "retries": 2}, "retries", "is not an orchestration setting"),
        ({**PARALLEL, "entries": "cheap,strong"}, "entries", "tuple"),
    ],
)
def test_it_refuses_each_invalid_orchestration(raw: Any, field: str, words: str) -> None:
    field = f"orchestration.{field}" if field else "orchestration"
    found = problems(raw)
    assert field in found, found
    assert any(words in message for message in found[field]), found[field]
    assert all(message.startswith(field) for message in found[field])


def test_entries_must_name_llm_entries_of_the_document() -> None:
    found = problems(
        {
            "strategy": "consensus",
            "entries": ["cheap", "ghost"],
            "method": "judge",
            "judge": "oracle",
        },
        entry_keys=KEYS,
    )
    assert found == {
        "orchestration.entries": ["orchestration.entries names 'ghost', which is no llm entry"],
        "orchestration.judge": ["orchestration.judge names 'oracle', which is no llm entry"],
    }


def test_without_entry_keys_any_entry_name_is_accepted() -> None:
    settings = OrchestrationSettings.from_dict({"strategy": "parallel", "entries": ["a", "b"]})
    assert settings.entries == ("a", "b")


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {
            "strategy": "parallel",
            "entries": ["cheap", "cheap", "ghost"],
            "threshold": 0.5,
            "method": "judge",
        },
        key="main",
        entry_keys=KEYS,
    )
    assert set(found) == {
        "main.orchestration.threshold",
        "main.orchestration.method",
        "main.orchestration.entries",
    }
    assert len(found["main.orchestration.entries"]) == 2  # repeated, and 'ghost' unknown


def test_type_problems_are_reported_together() -> None:
    found = problems({"strategy": "cascade", "threshold": "high", "timeoutSeconds": "long", "x": 1})
    assert set(found) == {
        "orchestration.threshold",
        "orchestration.timeoutSeconds",
        "orchestration.x",
    }


# Saving.


def test_saving_a_cascade_writes_the_canonical_shape_and_is_audited(store: SQLiteStore) -> None:
    revision = revision_of(store)
    saved = update_orchestration(
        store,
        "cheap",
        {"strategy": "cascade", "entries": ["cheap", "strong"], "threshold": 1},
        expected_revision=revision,
        actor="dana",
        reason="save money",
    )
    wanted = {
        "strategy": "cascade",
        "entries": ["cheap", "strong"],
        "threshold": 1.0,
        "timeoutSeconds": 60.0,
    }
    stored = load_document(store)
    assert stored.revision == saved.revision != revision
    assert stored.entry("cheap").configuration == {"model": "gpt-4o-mini", "orchestration": wanted}
    assert stored.entry("strong").configuration == {"model": "gpt-4o"}
    assert stored.body["embeddings"] == [{"kept": True}]
    [record] = store.list_audit(action="orchestration.update")
    assert (record.actor, record.target, record.before, record.after, record.reason) == (
        "dana",
        "orchestration:cheap",
        None,
        wanted,
        "save money",
    )


def test_changing_a_strategy_audits_the_object_before_and_after(store: SQLiteStore) -> None:
    first = {"strategy": "parallel", "entries": ["cheap", "strong"]}
    update_orchestration(store, "local", first, expected_revision=revision_of(store), actor="a")
    second = {"strategy": "consensus", "entries": KEYS, "method": "similarity"}
    update_orchestration(store, "local", second, expected_revision=revision_of(store), actor="b")
    latest = store.list_audit(action="orchestration.update")[0]
    assert latest.before == {
        "strategy": "parallel",
        "entries": ["cheap", "strong"],
        "timeoutSeconds": 60.0,
    }
    assert latest.after == {**second, "timeoutSeconds": 60.0}


def test_saving_single_removes_the_orchestration_field(store: SQLiteStore) -> None:
    update_orchestration(
        store,
        "cheap",
        {"strategy": "parallel", "entries": ["cheap", "strong"]},
        expected_revision=revision_of(store),
        actor="a",
    )
    update_orchestration(
        store, "cheap", {"strategy": "single"}, expected_revision=revision_of(store), actor="a"
    )
    assert load_document(store).entry("cheap").configuration == {"model": "gpt-4o-mini"}
    latest = store.list_audit(action="orchestration.update")[0]
    assert latest.after is None and latest.before is not None


def test_a_change_that_changes_nothing_writes_nothing(store: SQLiteStore) -> None:
    revision = revision_of(store)
    unchanged = update_orchestration(
        store, "cheap", {"strategy": "single"}, expected_revision=revision, actor="a"
    )
    assert unchanged.revision == revision == revision_of(store)
    update_orchestration(
        store,
        "cheap",
        {"strategy": "parallel", "entries": ["cheap", "strong"]},
        expected_revision=revision,
        actor="a",
    )
    written = revision_of(store)
    again = update_orchestration(
        store,
        "cheap",
        {"strategy": "parallel", "entries": ["cheap", "strong"], "timeoutSeconds": 60},
        expected_revision=written,
        actor="a",
    )
    assert again.revision == written == revision_of(store)
    assert len(store.list_audit(action="orchestration.update")) == 1


def test_a_stale_revision_is_a_conflict_and_writes_nothing(store: SQLiteStore) -> None:
    revision = revision_of(store)
    with pytest.raises(ConflictError, match="changed by someone else") as caught:
        update_orchestration(
            store,
            "cheap",
            {"strategy": "parallel", "entries": ["cheap", "strong"]},
            expected_revision="stale",
            actor="a",
        )
    assert caught.value.current_revision == revision
    assert revision_of(store) == revision
    assert store.list_audit(action="orchestration.update") == []


def test_an_unknown_entry_is_not_found(store: SQLiteStore) -> None:
    revision = revision_of(store)
    with pytest.raises(RecordNotFound):
        update_orchestration(
            store,
            "ghost",
            {"strategy": "parallel", "entries": ["cheap", "strong"]},
            expected_revision=revision,
            actor="a",
        )
    assert revision_of(store) == revision


def test_invalid_orchestration_writes_nothing_and_names_the_fields(store: SQLiteStore) -> None:
    revision = revision_of(store)
    with pytest.raises(ConfigError) as caught:
        update_orchestration(
            store,
            "cheap",
            {"strategy": "cascade", "entries": ["cheap", "ghost"], "method": "judge"},
            expected_revision=revision,
            actor="a",
        )
    assert set(caught.value.by_field()) == {"orchestration.method", "orchestration.entries"}
    assert revision_of(store) == revision
    assert load_document(store).entry("cheap").configuration == {"model": "gpt-4o-mini"}
    assert store.list_audit(action="orchestration.update") == []


def test_the_audit_record_is_plain_json(store: SQLiteStore) -> None:
    update_orchestration(
        store,
        "cheap",
        {
            "strategy": "consensus",
            "entries": ["cheap", "local"],
            "method": "judge",
            "judge": "strong",
        },
        expected_revision=revision_of(store),
        actor="a",
    )
    [record] = store.list_audit(action="orchestration.update")
    assert json.loads(json.dumps(record.after))["judge"] == "strong"
