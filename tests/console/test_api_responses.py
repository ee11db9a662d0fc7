"""``/api/responses``: the response cache per entry read by every role, an entry's
settings saved by editors (checked by the core: 422, nothing written; stale: 409;
audited), stored answers invalidated by operators (audited, counted)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from console.responses import edit
from llmopt.config import load_document
from llmopt.embeddings import EMBEDDINGS_MISSING
from llmopt.errors import ConfigError, FieldProblem
from llmopt.responses import LLMCacheLayer, response_cache_for
from llmopt.store import Store

from .conftest import SECRET, seed
from .test_responses_page import CLAUDE, OLLAMA, traffic

pytestmark = pytest.mark.django_db
URL = "/api/responses"
SETTINGS_URL = f"{URL}/{CLAUDE}/settings"
INVALIDATE_URL = f"{URL}/invalidate"
WANTED = {"enabled": True, "ttlSeconds": 600, "maxEntries": 50, "similarityThreshold": 1}


@pytest.fixture
def layer(store: Store) -> Iterator[LLMCacheLayer]:
    made = response_cache_for(store)
    yield made
    made.close()
    made.backend.close()


def put(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.put(url, body, content_type="application/json")


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def settings_body(store: Store, settings: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"settings": settings, "revision": load_document(store).revision, **extra}


def test_a_viewer_reads_each_entrys_statistics_and_settings(
    signed_in: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    response = signed_in.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["revision"] == load_document(store).revision and body["hours"] == 24
    claude, ollama = body["entries"]
    assert claude["entryKey"] == CLAUDE and claude["inDocument"] is True
    assert claude["stats"] == {
        "exactHits": 3,
        "semanticHits": 2,
        "misses": 2,
        "hitRate": pytest.approx(5 / 7),
        "savedUsd": pytest.approx(0.018),
        "stored": 2,
        "answers": 2,
    }
    assert claude["settings"]["enabled"] is False and claude["responseCache"] is None
    assert ollama["stats"]["answers"] == 1 and ollama["stats"]["hitRate"] == 0.0
    assert SECRET not in response.content.decode()


def test_an_entry_without_lookups_has_no_hit_rate(signed_in: Client, store: Store) -> None:
    seed(store)
    [claude, _ollama] = signed_in.get(URL).json()["entries"]
    assert claude["stats"]["hitRate"] is None and claude["stats"]["answers"] == 0


def test_an_editor_saves_an_entrys_settings_and_the_change_is_audited(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = put(operator, SETTINGS_URL, settings_body(store, WANTED, reason="FAQ"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["revision"] == load_document(store).revision
    assert body["entries"][0]["responseCache"] == WANTED
    assert body["entries"][0]["settings"]["similarityThreshold"] == 1.0
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None and configuration["responseCache"] == WANTED
    assert configuration["apiKey"] == SECRET
    [event] = store.list_audit(action="responses.update")
    assert (event.actor, event.target, event.reason) == ("operator", f"responses:{CLAUDE}", "FAQ")
    assert (event.before, event.after) == (None, WANTED)


def test_saving_the_same_settings_again_writes_nothing(operator: Client, store: Store) -> None:
    seed(store)
    assert put(operator, SETTINGS_URL, settings_body(store, WANTED)).status_code == 200
    revision = load_document(store).revision
    assert put(operator, SETTINGS_URL, settings_body(store, WANTED)).status_code == 200
    assert load_document(store).revision == revision
    assert len(store.list_audit(action="responses.update")) == 1


@pytest.mark.parametrize(
    ("sent", "field", "words"),
    [
        ({"ttlSeconds": 30}, "settings.ttlSeconds", "greater than or equal to 60"),
        ({"similarityThreshold": 1.5}, "settings.similarityThreshold", "less than or equal to 1"),
        ({"maxEntries": 0}, "settings.maxEntries", "greater than or equal to 1"),
        ({"enabled": "yes"}, "settings.enabled", "boolean"),
        ({"ttlSeconds": "600"}, "settings.ttlSeconds", "integer"),
        ({"colour": "red"}, "settings.colour", "not a response cache setting"),
    ],
)
def test_an_invalid_setting_is_a_422_on_its_field_and_nothing_is_written(
    operator: Client, store: Store, sent: dict[str, Any], field: str, words: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = put(operator, SETTINGS_URL, settings_body(store, sent))
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == field and words in problem["message"]
    assert load_document(store).revision == revision
    assert store.list_audit(action="responses.update") == []


def test_a_stale_revision_is_a_409_with_the_current_one(operator: Client, store: Store) -> None:
    seed(store)
    stale = settings_body(store, WANTED)
    assert (
        put(operator, f"{URL}/{OLLAMA}/settings", settings_body(store, WANTED)).status_code == 200
    )
    current = load_document(store).revision
    response = put(operator, SETTINGS_URL, stale)
    assert response.status_code == 409
    assert response.json()["revision"] == current
    assert "changed by someone else" in response.json()["detail"]
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None and "responseCache" not in configuration


def test_an_unknown_entry_is_a_404(operator: Client, store: Store) -> None:
    seed(store)
    response = put(operator, f"{URL}/nobody/settings", settings_body(store, WANTED))
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_turning_semantic_on_without_the_embeddings_is_refused_with_the_install_hint(
    operator: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> object:
        raise ConfigError([FieldProblem("", EMBEDDINGS_MISSING)])

    monkeypatch.setattr(edit, "load_embeddings", missing)
    seed(store)
    revision = load_document(store).revision
    response = put(
        operator, SETTINGS_URL, settings_body(store, {"enabled": True, "semantic": True})
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "settings.semantic"
    assert "pip install 'llmopt[embeddings]'" in problem["message"]
    assert load_document(store).revision == revision


def test_an_operator_invalidates_by_model_audited_with_how_many_went(
    operator: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    response = post(
        operator, INVALIDATE_URL, {"entry": "*", "model": "llama3.1", "reason": "new model"}
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"removed": 1, "entry": "*", "model": "llama3.1", "pattern": "*"}
    stats = layer.get_cache_stats()
    assert stats[OLLAMA].answers == 0 and stats[CLAUDE].answers == 2
    [event] = store.list_audit(action="responses.invalidate")
    assert (event.actor, event.target, event.reason) == ("operator", "responses:*", "new model")
    assert event.after is not None and event.after["removed"] == 1


def test_invalidating_by_entry_and_pattern_drops_only_the_matching_answers(
    operator: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    body = {"entry": CLAUDE, "pattern": "Summarise *", "reason": "report rewritten"}
    response = post(operator, INVALIDATE_URL, body)
    assert response.status_code == 200
    assert response.json()["removed"] == 1
    assert layer.get_cache_stats()[CLAUDE].answers == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_invalidation_needs_a_reason(
    operator: Client, store: Store, layer: LLMCacheLayer, reason: str
) -> None:
    seed(store)
    traffic(layer)
    response = post(operator, INVALIDATE_URL, {"entry": CLAUDE, "reason": reason})
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["reason"]
    assert layer.get_cache_stats()[CLAUDE].answers == 2
    assert store.list_audit(action="responses.invalidate") == []


def test_invalidating_an_unknown_entry_is_a_404(operator: Client, store: Store) -> None:
    seed(store)
    response = post(operator, INVALIDATE_URL, {"entry": "nobody", "reason": "x"})
    assert response.status_code == 404
    assert store.list_audit(action="responses.invalidate") == []


def test_a_viewer_can_neither_save_settings_nor_invalidate(
    signed_in: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    revision = load_document(store).revision
    assert put(signed_in, SETTINGS_URL, settings_body(store, WANTED)).status_code == 403
    response = post(signed_in, INVALIDATE_URL, {"entry": "*", "reason": "x"})
    assert response.status_code == 403
    assert load_document(store).revision == revision
    assert layer.get_cache_stats()[CLAUDE].answers == 2


def test_an_outsider_cannot_read_it(outsider: Client, store: Store) -> None:
    seed(store)
    assert outsider.get(URL).status_code == 403
