"""``/api/quality``: scores, degradation, alerts and A/B results read by every role
(webhook masked); the ``quality`` settings and an entry's orchestration strategy saved
by editors (checked by the core: 422, nothing written; stale: 409; audited, the webhook
masked in the audit record too)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from llmopt.config import load_document
from llmopt.store import Store

from .conftest import SECRET, seed
from .test_quality_page import (
    CLAUDE,
    HOOK_SECRET,
    OLLAMA,
    QUALITY,
    TEST,
    WEBHOOK,
    document,
    scored,
)

pytestmark = pytest.mark.django_db
URL = "/api/quality"
STRATEGY_URL = f"{URL}/orchestration/{CLAUDE}"
MASKED = "https://hooks.example.com/services/********"
CASCADE = {"strategy": "cascade", "entries": [OLLAMA, CLAUDE], "threshold": 0.8}


def put(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.put(url, body, content_type="application/json")


def quality_body(store: Store, quality: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"quality": quality, "revision": load_document(store).revision, **extra}


def strategy_body(store: Store, orchestration: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"orchestration": orchestration, "revision": load_document(store).revision, **extra}


def test_a_viewer_reads_scores_degradation_alerts_and_ab_results_with_the_webhook_masked(
    signed_in: Client, store: Store
) -> None:
    seed(store, document())
    scored(store)
    response = signed_in.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["revision"] == load_document(store).revision and body["hours"] == 24
    assert body["enabled"] is True and body["notRunning"] is None
    assert body["settings"]["webhook"] == MASKED and body["quality"]["webhook"] == MASKED
    claude, ollama = body["entries"]
    assert claude["entryKey"] == CLAUDE and claude["summary"]["count"] == 65
    assert claude["summary"]["mean"] == pytest.approx(51 / 65)
    assert claude["summary"]["fatal"] == 2 and claude["summary"]["flags"] == {"truncated": 3}
    assert [m["model"] for m in claude["models"]] == ["claude-sonnet-4-6"]
    assert len(claude["hourly"]) == 24 and sum(h["count"] for h in claude["hourly"]) == 65
    assert (
        claude["degradation"]["degraded"] is True and claude["degradation"]["state"] == "degraded"
    )
    assert ollama["degradation"]["state"] == "not enough answers"
    assert claude["orchestration"] == {"strategy": "single"}
    [alert] = body["alerts"]
    assert alert["entryKey"] == CLAUDE and alert["windowMean"] == 0.6
    [ab] = body["abTests"]
    assert ab["name"] == TEST and ab["significant"] is True and ab["winner"] == CLAUDE
    assert [arm["count"] for arm in ab["arms"]] == [10, 10]
    assert ab["test"]["pValue"] < 0.05 and CLAUDE in ab["verdict"]
    text = response.content.decode()
    assert SECRET not in text and HOOK_SECRET not in text


def test_with_monitoring_off_it_says_the_ab_tests_are_not_running(
    signed_in: Client, store: Store
) -> None:
    seed(store, document(None))
    body = signed_in.get(URL).json()
    assert body["enabled"] is False and "A/B tests are not running" in body["notRunning"]
    assert body["quality"] is None and body["abTests"] == []


def test_an_editor_saves_the_settings_keeping_the_masked_webhook_audited_masked(
    operator: Client, store: Store
) -> None:
    seed(store, document())
    sent = {**QUALITY, "webhook": MASKED, "sampleRate": 0.25}
    response = put(operator, URL, quality_body(store, sent, reason="score a quarter"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["revision"] == load_document(store).revision
    assert body["settings"]["sampleRate"] == 0.25 and body["quality"]["webhook"] == MASKED
    stored = load_document(store).body["quality"]
    assert stored["webhook"] == WEBHOOK and stored["sampleRate"] == 0.25
    [event] = store.list_audit(action="quality.update")
    assert (event.actor, event.target, event.reason) == ("operator", "quality", "score a quarter")
    assert HOOK_SECRET not in str(event.before) + str(event.after)
    assert HOOK_SECRET not in response.content.decode()


@pytest.mark.parametrize(
    ("sent", "field", "words"),
    [
        ({"sampleRate": 0}, "quality.sampleRate", "greater than 0"),
        ({"passThreshold": "high"}, "quality.passThreshold", "number"),
        ({"colour": "red"}, "quality.colour", "not a quality setting"),
        ({"webhook": "ftp://x.example.com/"}, "quality.webhook", "http:// or https://"),
        (
            {"abTests": [{"name": "t", "entries": [CLAUDE, "nobody"], "share": 0.1}]},
            "quality.abTests[0].entries",
            "which is no llm entry",
        ),
    ],
)
def test_an_invalid_setting_is_a_422_on_its_field_and_nothing_is_written(
    operator: Client, store: Store, sent: dict[str, Any], field: str, words: str
) -> None:
    seed(store, document())
    revision = load_document(store).revision
    response = put(operator, URL, quality_body(store, sent))
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == field and words in problem["message"]
    assert load_document(store).revision == revision
    assert store.list_audit(action="quality.update") == []


def test_a_stale_revision_is_a_409_with_the_current_one(operator: Client, store: Store) -> None:
    seed(store, document())
    stale = quality_body(store, {"enabled": False})
    assert put(operator, STRATEGY_URL, strategy_body(store, CASCADE)).status_code == 200
    current = load_document(store).revision
    response = put(operator, URL, stale)
    assert response.status_code == 409
    assert response.json()["revision"] == current
    assert "changed by someone else" in response.json()["detail"]
    assert load_document(store).body["quality"]["enabled"] is True


def test_an_editor_sets_an_entrys_cascade_audited_and_single_removes_it(
    operator: Client, store: Store
) -> None:
    seed(store, document())
    response = put(operator, STRATEGY_URL, strategy_body(store, CASCADE, reason="cheap first"))
    assert response.status_code == 200, response.content
    assert response.json()["entries"][0]["orchestration"] == {
        **CASCADE,
        "timeoutSeconds": 60.0,
    }
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None and configuration["orchestration"] == {
        **CASCADE,
        "timeoutSeconds": 60.0,
    }
    assert configuration["apiKey"] == SECRET
    [event] = store.list_audit(action="orchestration.update")
    assert (event.actor, event.target, event.reason) == (
        "operator",
        f"orchestration:{CLAUDE}",
        "cheap first",
    )
    response = put(operator, STRATEGY_URL, strategy_body(store, {"strategy": "single"}))
    assert response.status_code == 200
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None and "orchestration" not in configuration


@pytest.mark.parametrize(
    ("sent", "field", "words"),
    [
        (
            {"strategy": "parallel", "entries": [OLLAMA, CLAUDE], "threshold": 0.5},
            "orchestration.threshold",
            "does not apply to strategy 'parallel'",
        ),
        ({"strategy": "cascade", "entries": [CLAUDE]}, "orchestration.entries", "2 to 8"),
        (
            {"strategy": "cascade", "entries": [CLAUDE, "nobody"]},
            "orchestration.entries",
            "which is no llm entry",
        ),
        ({"strategy": "telepathy"}, "orchestration.strategy", "'single'"),
    ],
)
def test_an_invalid_strategy_is_a_422_on_its_field_and_nothing_is_written(
    operator: Client, store: Store, sent: dict[str, Any], field: str, words: str
) -> None:
    seed(store, document())
    revision = load_document(store).revision
    response = put(operator, STRATEGY_URL, strategy_body(store, sent))
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == field and words in problem["message"]
    assert load_document(store).revision == revision
    assert store.list_audit(action="orchestration.update") == []


def test_a_strategy_for_an_unknown_entry_is_a_404(operator: Client, store: Store) -> None:
    seed(store, document())
    response = put(operator, f"{URL}/orchestration/nobody", strategy_body(store, CASCADE))
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_a_viewer_can_change_neither_settings_nor_strategies(
    signed_in: Client, store: Store
) -> None:
    seed(store, document())
    revision = load_document(store).revision
    assert put(signed_in, URL, quality_body(store, {"enabled": False})).status_code == 403
    assert put(signed_in, STRATEGY_URL, strategy_body(store, CASCADE)).status_code == 403
    assert load_document(store).revision == revision


def test_an_outsider_cannot_read_it(outsider: Client, store: Store) -> None:
    seed(store, document())
    assert outsider.get(URL).status_code == 403


def test_the_schema_documents_the_error_responses(signed_in: Client, store: Store) -> None:
    paths = signed_in.get("/api/openapi.json").json()["paths"]
    assert {"200", "401", "403", "409", "422"} <= set(paths[URL]["put"]["responses"])
    strategy = paths["/api/quality/orchestration/{key}"]["put"]["responses"]
    assert {"200", "404", "409", "422"} <= set(strategy)
