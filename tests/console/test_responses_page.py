"""The Responses page: the response cache's statistics per entry (live), each entry's
settings edited with the core's rules and audited, invalidation audited and counted,
and what a viewer and an outsider may do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from langchain_core.messages import AIMessage, HumanMessage

from console.responses import edit
from llmopt.config import load_document
from llmopt.embeddings import EMBEDDINGS_MISSING
from llmopt.errors import ConfigError, FieldProblem
from llmopt.responses import (
    LLMCacheLayer,
    ResponseCacheSettings,
    canonical_request,
    response_cache_for,
)
from llmopt.responses._backend import EntryStats
from llmopt.store import Store

from .conftest import SECRET, seed

pytestmark = pytest.mark.django_db
URL = "/responses/"
SETTINGS_URL = "/responses/settings/"
INVALIDATE_URL = "/responses/invalidate/"
CLAUDE = "anthropic:claude-sonnet-4-6"
OLLAMA = "ollama:llama3.1"
ON = ResponseCacheSettings.from_dict({"enabled": True})


@pytest.fixture
def layer(store: Store) -> Iterator[LLMCacheLayer]:
    """The console process's response cache for the test's store."""
    made = response_cache_for(store)
    yield made
    made.close()
    made.backend.close()


def answer(layer: LLMCacheLayer, entry_key: str, question: str, *, model: str, cost: float) -> None:
    """A call the cache missed, its answer stored at ``cost``."""
    request = canonical_request([HumanMessage(question)], provider="anthropic", model=model)
    missed = layer.lookup(request, entry_key=entry_key, settings=ON)
    assert missed.hit is None
    layer.save(missed, AIMessage(f"answer to {question}"), model=model, cost_usd=cost)


def ask_again(layer: LLMCacheLayer, entry_key: str, question: str, *, model: str) -> None:
    """The same call again: an exact hit."""
    request = canonical_request([HumanMessage(question)], provider="anthropic", model=model)
    assert layer.lookup(request, entry_key=entry_key, settings=ON).hit is not None


def traffic(layer: LLMCacheLayer) -> None:
    """Claude: 2 answers stored, 3 exact hits (2 × $0.002 + $0.01), 2 semantic hits
    ($0.004) and 2 misses; Ollama: 1 answer, no hit."""
    answer(layer, CLAUDE, "What is the capital of France?", model="claude-sonnet-4-6", cost=0.002)
    answer(layer, CLAUDE, "Summarise the report", model="claude-sonnet-4-6", cost=0.01)
    ask_again(layer, CLAUDE, "What is the capital of France?", model="claude-sonnet-4-6")
    ask_again(layer, CLAUDE, "What is the capital of France?", model="claude-sonnet-4-6")
    ask_again(layer, CLAUDE, "Summarise the report", model="claude-sonnet-4-6")
    hour = (time.time() // 3600) * 3600
    layer.backend.add_stats(CLAUDE, hour, EntryStats(semantic_hits=2, saved_usd=0.004))
    answer(layer, OLLAMA, "What is the capital of France?", model="llama3.1", cost=0.0)


def form_data(store: Store, entry: str = CLAUDE, **changes: Any) -> dict[str, Any]:
    data = {
        "entry": entry,
        "revision": load_document(store).revision,
        "enabled": "on",
        "similarityThreshold": "0.9",
        "ttlSeconds": "3600",
        "maxEntries": "500",
        "priority": "5",
        "allowTemperature": None,
        "semantic": None,
        "reason": "cache the FAQ",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def row(page: str, entry_key: str, element: str = "tr") -> str:
    start = page.index(f'data-entry="{entry_key}"')
    return page[start : page.index(f"</{element}>", start)]


def test_a_viewer_sees_each_entrys_hits_misses_and_money_saved_apart_from_prompt_caching(
    signed_in: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    response = signed_in.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    claude = row(page, CLAUDE)
    cells = [cell.split(">")[-1] for cell in claude.split("</td>")[2:8]]
    # exact, semantic, misses, hit rate (5 of 7), saved, answers stored now
    assert cells == ["3", "2", "2", "71.4%", "$0.0180", "2"]
    ollama = row(page, OLLAMA)
    assert "$0.0000" in ollama and ">1</td>" in ollama
    assert "It is not prompt caching" in page and "Statistics" in page
    assert "without calling the model" in page
    assert SECRET not in page


def test_the_statistics_refresh_live_as_their_own_fragment(
    signed_in: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    page = signed_in.get(URL).content.decode()
    assert 'id="responses-live" hx-get="/responses/"' in page
    assert 'data-poll-hidden="60s"' in page
    traffic(layer)
    fragment = signed_in.get(URL, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert text.lstrip().startswith('<div id="responses-live"')
    assert "settings-form" not in text and "<html" not in text
    assert ">3</td>" in row(text, CLAUDE)
    assert "HX-Request" in fragment["Vary"]


def test_a_viewer_sees_the_settings_but_no_form_to_change_them_or_drop_answers(
    signed_in: Client, store: Store
) -> None:
    seed(store)
    page = signed_in.get(URL).content.decode()
    assert 'id="settings-summary"' in page
    assert "settings-form" not in page and 'id="invalidate-form"' not in page
    assert "needs the operator role" in page


def test_an_operator_saves_an_entrys_settings_and_the_change_is_audited(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = operator.post(SETTINGS_URL, form_data(store))
    assert response.status_code == 302
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None
    assert configuration["responseCache"] == {
        "enabled": True,
        "semantic": False,
        "similarityThreshold": 0.9,
        "ttlSeconds": 3600,
        "maxEntries": 500,
        "priority": 5,
        "allowTemperature": False,
    }
    assert configuration["apiKey"] == SECRET  # the rest of the entry is kept
    [event] = store.list_audit(action="responses.update")
    assert (event.actor, event.target, event.reason) == (
        "operator",
        f"responses:{CLAUDE}",
        "cache the FAQ",
    )
    assert event.before is None and event.after is not None and event.after["ttlSeconds"] == 3600
    page = operator.get(URL).content.decode()
    assert "Saved the response cache settings" in page
    assert "on, exact only" in row(page, CLAUDE)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"ttlSeconds": "10"}, "ttlSeconds", "greater than or equal to 60"),
        ({"similarityThreshold": "0.2"}, "similarityThreshold", "greater than or equal to 0.5"),
        ({"maxEntries": "0"}, "maxEntries", "greater than or equal to 1"),
        ({"priority": "1000"}, "priority", "less than or equal to 100"),
        ({"ttlSeconds": "soon"}, "ttlSeconds", "whole number"),
        ({"reason": "two\nlines"}, "reason", "Reason"),
    ],
)
def test_an_invalid_value_is_a_422_beside_its_field_and_nothing_is_written(
    operator: Client, store: Store, changes: dict[str, str], field: str, words: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = operator.post(SETTINGS_URL, form_data(store, **changes))
    assert response.status_code == 422
    page = response.content.decode()
    start = page.index(f'class="field invalid" id="field-1-{field}"')
    assert words in page[start : page.index("</div>\n", page.index('class="error"', start))]
    assert "<details" in page and 'id="edit-1" open' in page
    assert load_document(store).revision == revision
    assert store.list_audit(action="responses.update") == []


def test_a_stale_revision_is_refused_with_a_409_and_says_to_reload(
    operator: Client, store: Store
) -> None:
    seed(store)
    stale = form_data(store)
    assert operator.post(SETTINGS_URL, form_data(store, entry=OLLAMA)).status_code == 302
    revision = load_document(store).revision
    response = operator.post(SETTINGS_URL, stale)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert load_document(store).revision == revision
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None and "responseCache" not in configuration


def test_semantic_matching_is_refused_with_the_install_hint_when_embeddings_are_missing(
    operator: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> object:
        raise ConfigError([FieldProblem("", EMBEDDINGS_MISSING)])

    monkeypatch.setattr(edit, "load_embeddings", missing)
    seed(store)
    revision = load_document(store).revision
    response = operator.post(SETTINGS_URL, form_data(store, semantic="on"))
    assert response.status_code == 422
    page = response.content.decode()
    start = page.index('class="field invalid" id="field-1-semantic"')
    assert "pip install &#x27;llmopt[embeddings]&#x27;" in page[start : start + 1200]
    assert load_document(store).revision == revision


def test_semantic_matching_is_saved_when_the_embeddings_are_installed(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = operator.post(SETTINGS_URL, form_data(store, semantic="on"))
    assert response.status_code == 302
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None and configuration["responseCache"]["semantic"] is True


def test_an_operator_invalidates_an_entrys_answers_audited_and_counted(
    operator: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    response = operator.post(
        INVALIDATE_URL, {"entry": CLAUDE, "pattern": "*", "reason": "the FAQ changed"}
    )
    assert response.status_code == 302
    stats = layer.get_cache_stats()
    assert stats[CLAUDE].answers == 0 and stats[OLLAMA].answers == 1
    [event] = store.list_audit(action="responses.invalidate")
    assert (event.actor, event.target, event.reason) == (
        "operator",
        f"responses:{CLAUDE}",
        "the FAQ changed",
    )
    assert event.after is not None and event.after["removed"] == 2
    assert (
        "Removed 2 stored answers of anthropic:claude-sonnet-4-6."
        in operator.get(URL).content.decode()
    )


def test_invalidation_by_pattern_and_model_drops_only_the_matching_answers(
    operator: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    form = {"entry": "*", "model": "claude-sonnet-4-6", "pattern": "*capital*", "reason": "x"}
    assert operator.post(INVALIDATE_URL, form).status_code == 302
    stats = layer.get_cache_stats()
    assert stats[CLAUDE].answers == 1 and stats[OLLAMA].answers == 1
    [event] = store.list_audit(action="responses.invalidate")
    assert event.target == "responses:*" and event.after is not None
    assert (event.after["pattern"], event.after["model"]) == ("*capital*", "claude-sonnet-4-6")


def test_invalidation_without_a_reason_is_a_422_and_drops_nothing(
    operator: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    response = operator.post(INVALIDATE_URL, {"entry": CLAUDE, "pattern": "*", "reason": " "})
    assert response.status_code == 422
    assert "needs a reason" in response.content.decode()
    assert layer.get_cache_stats()[CLAUDE].answers == 2
    assert store.list_audit(action="responses.invalidate") == []


def test_invalidating_an_unknown_entry_is_refused(operator: Client, store: Store) -> None:
    seed(store)
    response = operator.post(INVALIDATE_URL, {"entry": "nobody", "reason": "x"})
    assert response.status_code == 422
    assert "no llm entry" in response.content.decode()
    assert store.list_audit(action="responses.invalidate") == []


def test_a_viewer_can_neither_edit_settings_nor_invalidate(
    signed_in: Client, store: Store, layer: LLMCacheLayer
) -> None:
    seed(store)
    traffic(layer)
    revision = load_document(store).revision
    assert signed_in.post(SETTINGS_URL, form_data(store)).status_code == 403
    response = signed_in.post(INVALIDATE_URL, {"entry": "*", "reason": "x"})
    assert response.status_code == 403
    assert load_document(store).revision == revision
    assert layer.get_cache_stats()[CLAUDE].answers == 2
    assert store.list_audit(action="responses.invalidate") == []


def test_an_outsider_cannot_open_the_page(outsider: Client, store: Store) -> None:
    seed(store)
    assert outsider.get(URL).status_code == 403


def test_the_page_is_in_the_navigation(signed_in: Client, store: Store) -> None:
    seed(store)
    assert '<a href="/responses/">Responses</a>' in signed_in.get("/").content.decode()
