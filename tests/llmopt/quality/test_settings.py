from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmopt.config import load_document
from llmopt.errors import ConfigError, ConflictError
from llmopt.quality import (
    DEFAULT_WEIGHTS,
    QualitySettings,
    masked_quality,
    update_quality,
)
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

BODY: dict[str, Any] = {
    "llm": [
        {"provider": "openai", "modelKey": "cheap", "configuration": {"model": "gpt-4o-mini"}},
        {"provider": "openai", "modelKey": "strong", "configuration": {"model": "gpt-4o"}},
        {"provider": "ollama", "modelKey": "local", "configuration": {"model": "llama3.1:8b"}},
    ],
    "routing": {"enabled": True, "fallbackChain": ["cheap", "strong"]},
}
KEYS = ["cheap", "strong", "local"]
SECRET_HOOK = "https://hooks.slack.com/services/T000/B000/s3cr3tT0ken"
MASKED_HOOK = "https://hooks.slack.com/services/********"


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


def ab(name: str = "t1", **fields: Any) -> dict[str, Any]:
    return {"name": name, "entries": ["cheap", "strong"], "share": 0.2, **fields}


def problems(raw: Any, **options: Any) -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as caught:
        QualitySettings.from_dict(raw, **options)
    return caught.value.by_field()


# Reading.


def test_no_quality_object_means_monitoring_off_with_the_defaults() -> None:
    settings = QualitySettings.from_dict(None)
    assert not settings.enabled
    assert (settings.sample_rate, settings.pass_threshold) == (1.0, 0.7)
    assert settings.check_weights == dict(DEFAULT_WEIGHTS)
    assert settings.degradation.window_minutes == 60 and settings.degradation.baseline_hours == 24
    assert settings.webhook is None and settings.ab_tests == ()


def test_a_full_quality_object_reads_and_round_trips() -> None:
    raw = {
        "enabled": True,
        "sampleRate": 0.25,
        "passThreshold": 1,
        "weights": {"code": 5, "judge": 0},
        "degradation": {"windowMinutes": 30, "baselineHours": 6, "drop": 0.2, "minSamples": 10},
        "webhook": "http://alerts.internal/quality",
        "abTests": [
            ab("a", share=0.5, metric="pass", minSamples=50),
            ab("b", entries=["local", "cheap"], share=1, enabled=False),
        ],
    }
    settings = QualitySettings.from_dict(raw, entry_keys=KEYS)
    assert settings.pass_threshold == 1.0
    assert settings.check_weights == {**DEFAULT_WEIGHTS, "code": 5.0, "judge": 0.0}
    assert settings.degradation.drop == 0.2 and settings.degradation.min_samples == 10
    assert [t.name for t in settings.running_tests()] == ["a"]
    assert settings.ab_tests[1].share == 1.0 and settings.ab_tests[1].entries == ("local", "cheap")
    assert QualitySettings.from_dict(settings.to_dict()) == settings
    assert "webhook" not in QualitySettings().to_dict()


def test_enabled_tests_whose_shares_add_up_to_exactly_one_are_accepted() -> None:
    settings = QualitySettings.from_dict(
        {"abTests": [ab("a", share=0.5), ab("b", share=0.3), ab("c", share=0.2)]}
    )
    assert len(settings.running_tests()) == 3


def test_disabled_tests_do_not_count_towards_the_shares() -> None:
    settings = QualitySettings.from_dict(
        {"abTests": [ab("a", share=0.9), ab("b", share=0.9, enabled=False)]}
    )
    assert [t.name for t in settings.running_tests()] == ["a"]


@pytest.mark.parametrize("url", ["http://h/x", "https://hooks.example.com:8443/a?b=c"])
def test_http_and_https_webhooks_are_accepted(url: str) -> None:
    assert QualitySettings.from_dict({"webhook": url}).webhook == url


# Refused.


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ("on", "quality", "must be an object"),
        ([], "quality", "must be an object"),
        ({"enabled": "yes"}, "quality.enabled", "valid boolean"),
        ({"enabled": 1}, "quality.enabled", "valid boolean"),
        ({"sampleRate": 0}, "quality.sampleRate", "greater than 0"),
        ({"sampleRate": 1.5}, "quality.sampleRate", "less than or equal to 1"),
        ({"sampleRate": True}, "quality.sampleRate", "valid number"),
        ({"sampleRate": "0.5"}, "quality.sampleRate", "valid number"),
        ({"passThreshold": -0.1}, "quality.passThreshold", "greater than or equal to 0"),
        ({"passThreshold": False}, "quality.passThreshold", "valid number"),
        ({"weights": {"tone": 1}}, "quality.weights", "tone: no such check"),
        ({"weights": {"code": 101}}, "quality.weights", "from 0 to 100"),
        ({"weights": {"code": -1}}, "quality.weights", "from 0 to 100"),
        ({"weights": {"code": True}}, "quality.weights.code", "valid number"),
        ({"weights": ["code"]}, "quality.weights", "valid dictionary"),
        ({"degradation": {"windowMinutes": 4}}, "quality.degradation.windowMinutes", "5"),
        ({"degradation": {"windowMinutes": 1441}}, "quality.degradation.windowMinutes", "1440"),
        ({"degradation": {"windowMinutes": 60.0}}, "quality.degradation.windowMinutes", "integer"),
        ({"degradation": {"minSamples": True}}, "quality.degradation.minSamples", "integer"),
        ({"degradation": {"drop": 0}}, "quality.degradation.drop", "greater than 0"),
        ({"degradation": {"drop": 1.1}}, "quality.degradation.drop", "less than or equal to 1"),
        ({"degradation": {"grace": 1}}, "quality.degradation.grace", "is not a quality setting"),
        (
            {"degradation": {"windowMinutes": 60, "baselineHours": 1}},
            "quality.degradation.baselineHours",
            "the baseline (1 h) must be longer than the window (60 min)",
        ),
        (
            {"degradation": {"windowMinutes": 180, "baselineHours": 2}},
            "quality.degradation.baselineHours",
            "longer than the window",
        ),
        ({"webhook": "ftp://h/x"}, "quality.webhook", "http:// or https:// URL"),
        ({"webhook": "hooks.example.com/x"}, "quality.webhook", "http:// or https:// URL"),
        ({"webhook": "https://"}, "quality.webhook", "http:// or https:// URL"),
        ({"webhook": 7}, "quality.webhook", "valid string"),
        ({"alerts": True}, "quality.alerts", "is not a quality setting"),
        ({"abTests": [ab("x y")]}, "quality.abTests.0.name", "letters, digits"),
        ({"abTests": [ab("-x")]}, "quality.abTests.0.name", "starting with a letter"),
        ({"abTests": [ab("x" * 81)]}, "quality.abTests.0.name", "1 to 80"),
        ({"abTests": [ab(entries=["cheap"] * 2)]}, "quality.abTests.0.entries", "two different"),
        ({"abTests": [ab(entries=["cheap"])]}, "quality.abTests.0.entries.1", "Field required"),
        ({"abTests": [ab(entries=["a", "b", "c"])]}, "quality.abTests.0.entries", "at most 2"),
        ({"abTests": [ab(share=0)]}, "quality.abTests.0.share", "greater than 0"),
        ({"abTests": [ab(share=True)]}, "quality.abTests.0.share", "valid number"),
        ({"abTests": [ab(metric="latency")]}, "quality.abTests.0.metric", "'score' or 'pass'"),
        ({"abTests": [ab(minSamples=1)]}, "quality.abTests.0.minSamples", "or equal to 2"),
        ({"abTests": [ab(enabled="no")]}, "quality.abTests.0.enabled", "valid boolean"),
        ({"abTests": [ab(weight=1)]}, "quality.abTests.0.weight", "is not a quality setting"),
        ({"abTests": [{"name": "t"}]}, "quality.abTests.0.entries", "Field required"),
        ({"abTests": ["t1"]}, "quality.abTests.0", "valid dictionary"),
        ({"abTests": [ab("t"), ab("t")]}, "quality.abTests", "two tests are named 't'"),
        (
            {"abTests": [ab("a", share=0.6), ab("b", share=0.5)]},
            "quality.abTests",
            "shares add up to 1.1",
        ),
    ],
)  # fmt: skip
def test_it_refuses_each_invalid_quality_object(raw: Any, field: str, words: str) -> None:
    found = problems(raw)
    assert field in found, found
    assert any(words in message for message in found[field]), found[field]
    assert all(message.startswith(field) for message in found[field])


def test_ab_test_entries_must_be_llm_entries() -> None:
    found = problems({"abTests": [ab(), ab("t2", entries=["ghost", "local"])]}, entry_keys=KEYS)
    assert found == {
        "quality.abTests[1].entries": [
            "quality.abTests[1].entries names 'ghost', which is no llm entry"
        ]
    }


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {
            "sampleRate": 2,
            "weights": {"tone": 1},
            "webhook": "mailto:ops@example.com",
            "abTests": [ab(metric="latency")],
        }
    )
    assert set(found) == {
        "quality.sampleRate",
        "quality.weights",
        "quality.webhook",
        "quality.abTests.0.metric",
    }


def test_rules_over_several_fields_are_reported_together() -> None:
    found = problems(
        {
            "degradation": {"windowMinutes": 120, "baselineHours": 2},
            "abTests": [ab("t", share=0.8), ab("t", share=0.8, entries=["cheap", "ghost"])],
        },
        entry_keys=KEYS,
    )
    assert set(found) == {
        "quality.degradation.baselineHours",
        "quality.abTests",
        "quality.abTests[1].entries",
    }
    assert len(found["quality.abTests"]) == 2  # the repeated name and the shares


# Showing.


def test_masked_quality_masks_the_webhook_only() -> None:
    shown = masked_quality({"enabled": True, "webhook": SECRET_HOOK})
    assert shown == {"enabled": True, "webhook": MASKED_HOOK}
    assert masked_quality({"enabled": True}) == {"enabled": True}
    assert masked_quality(None) is None


# Saving.


def test_saving_quality_keeps_the_rest_of_the_document_and_is_audited(store: SQLiteStore) -> None:
    revision = revision_of(store)
    quality = {"enabled": True, "sampleRate": 0.5, "abTests": [ab()]}
    saved = update_quality(
        store, quality, expected_revision=revision, actor="dana", reason="watch it"
    )
    assert saved.revision != revision
    stored = load_document(store)
    assert stored.body["quality"] == quality
    assert stored.body["routing"] == BODY["routing"] and stored.body["llm"] == BODY["llm"]
    [record] = store.list_audit(action="quality.update")
    assert (record.actor, record.target, record.before, record.after, record.reason) == (
        "dana",
        "quality",
        None,
        quality,
        "watch it",
    )


def test_the_audit_record_never_holds_the_clear_webhook(store: SQLiteStore) -> None:
    update_quality(
        store,
        {"enabled": True, "webhook": SECRET_HOOK},
        expected_revision=revision_of(store),
        actor="a",
    )
    assert load_document(store).body["quality"]["webhook"] == SECRET_HOOK
    update_quality(
        store,
        {"enabled": False, "webhook": "https://hooks.slack.com/services/T1/B1/other5ecret"},
        expected_revision=revision_of(store),
        actor="a",
    )
    records = store.list_audit(action="quality.update")
    assert len(records) == 2
    for record in records:
        text = json.dumps(record.model_dump(mode="json"))
        assert "s3cr3tT0ken" not in text and "other5ecret" not in text
        assert "T000" not in text
    assert records[0].before == {"enabled": True, "webhook": MASKED_HOOK}
    assert records[0].after == {"enabled": False, "webhook": MASKED_HOOK}


def test_a_masked_webhook_sent_back_keeps_the_stored_url(store: SQLiteStore) -> None:
    update_quality(
        store,
        {"enabled": True, "webhook": SECRET_HOOK},
        expected_revision=revision_of(store),
        actor="a",
    )
    shown = masked_quality(load_document(store).body["quality"])
    assert shown["webhook"] == MASKED_HOOK
    update_quality(
        store, {**shown, "sampleRate": 0.1}, expected_revision=revision_of(store), actor="a"
    )
    assert load_document(store).body["quality"] == {
        "enabled": True,
        "webhook": SECRET_HOOK,
        "sampleRate": 0.1,
    }


def test_a_masked_webhook_sent_back_unchanged_writes_nothing(store: SQLiteStore) -> None:
    update_quality(
        store,
        {"enabled": True, "webhook": SECRET_HOOK},
        expected_revision=revision_of(store),
        actor="a",
    )
    revision = revision_of(store)
    shown = masked_quality(load_document(store).body["quality"])
    again = update_quality(store, shown, expected_revision=revision, actor="a")
    assert again.revision == revision == revision_of(store)
    assert len(store.list_audit(action="quality.update")) == 1


@pytest.mark.parametrize("stored", [None, "https://hooks.slack.com/services/T9/B9/different"])
def test_a_masked_webhook_that_masks_nothing_stored_is_refused(
    store: SQLiteStore, stored: str | None
) -> None:
    if stored is not None:
        update_quality(
            store,
            {"enabled": True, "webhook": stored},
            expected_revision=revision_of(store),
            actor="a",
        )
    revision = revision_of(store)
    before = load_document(store).body.get("quality")
    with pytest.raises(ConfigError) as caught:
        update_quality(
            store,
            {"enabled": True, "webhook": "https://elsewhere.example.com/hooks/********"},
            expected_revision=revision,
            actor="a",
        )
    assert list(caught.value.by_field()) == ["quality.webhook"]
    assert "masks no stored webhook" in str(caught.value)
    assert revision_of(store) == revision
    assert load_document(store).body.get("quality") == before


def test_a_masked_webhook_is_reported_with_the_other_problems(store: SQLiteStore) -> None:
    with pytest.raises(ConfigError) as caught:
        update_quality(
            store,
            {"webhook": MASKED_HOOK, "sampleRate": 3},
            expected_revision=revision_of(store),
            actor="a",
        )
    assert set(caught.value.by_field()) == {"quality.webhook", "quality.sampleRate"}


def test_invalid_quality_writes_nothing(store: SQLiteStore) -> None:
    revision = revision_of(store)
    with pytest.raises(ConfigError, match="names 'ghost'"):
        update_quality(
            store,
            {"abTests": [ab(entries=["cheap", "ghost"])]},
            expected_revision=revision,
            actor="a",
        )
    assert revision_of(store) == revision
    assert "quality" not in load_document(store).body
    assert store.list_audit(action="quality.update") == []


def test_a_stale_revision_is_a_conflict_and_fills_in_no_webhook(store: SQLiteStore) -> None:
    update_quality(
        store,
        {"enabled": True, "webhook": SECRET_HOOK},
        expected_revision=revision_of(store),
        actor="a",
    )
    revision = revision_of(store)
    with pytest.raises(ConflictError, match="changed by someone else"):
        update_quality(store, {"webhook": MASKED_HOOK}, expected_revision="stale", actor="a")
    assert revision_of(store) == revision
    assert len(store.list_audit(action="quality.update")) == 1


def test_a_change_that_changes_nothing_writes_nothing(store: SQLiteStore) -> None:
    quality = {"enabled": True}
    update_quality(store, quality, expected_revision=revision_of(store), actor="a")
    revision = revision_of(store)
    again = update_quality(store, dict(quality), expected_revision=revision, actor="a")
    assert again.revision == revision == revision_of(store)
    assert len(store.list_audit(action="quality.update")) == 1
