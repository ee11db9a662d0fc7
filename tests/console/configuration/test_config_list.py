from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from llmopt.errors import StoreError
from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.store import Store

from ..conftest import CONFLICTED_KEY, NESTED_AICONFIGS, NESTED_KEY, SECRET, seed

pytestmark = pytest.mark.django_db


def test_anonymous_users_are_sent_to_sign_in(client: Client, store: Store) -> None:
    response = client.get("/config/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/config/")


def test_the_list_shows_every_entry_from_the_store(signed_in: Client, store: Store) -> None:
    seed(store)
    release_kill_switch(store, actor="t")
    page = signed_in.get("/config/").content.decode()
    assert "anthropic:claude-sonnet-4-6" in page and "ollama:llama3.1" in page
    assert "caching (5 min)" in page
    assert "Kill switch released" in page


def test_the_api_key_never_reaches_the_page(signed_in: Client, store: Store) -> None:
    seed(store)
    assert SECRET not in signed_in.get("/config/").content.decode()


def test_a_malformed_document_shows_per_entry_problems(signed_in: Client, store: Store) -> None:
    seed(
        store,
        {
            "llm": [
                {"provider": "anthropic"},
                {"provider": "acme", "configuration": {"model": "m", "optimizationEnabled": True}},
                {
                    "provider": "anthropic",
                    "configuration": {"model": "claude-sonnet-4-6", "cacheTTL": 5},
                },
            ]
        },
    )
    page = signed_in.get("/config/").content.decode()
    assert "configuration is missing" in page
    assert "&#x27;acme&#x27; is not a provider llmopt knows" in page
    assert "cacheTTL must be 300 or 3600 seconds" in page


def test_an_engaged_kill_switch_is_shown(signed_in: Client, store: Store) -> None:
    seed(store)
    engage_kill_switch(store, actor="oncall", reason="spike")
    assert "Kill switch engaged" in signed_in.get("/config/").content.decode()


def test_without_a_document_the_page_says_so(signed_in: Client, store: Store) -> None:
    page = signed_in.get("/config/").content.decode()
    assert "There is no <code>aiconfigs</code> document" in page


def test_an_unreadable_store_gives_a_clear_503(
    signed_in: Client, store: Store, monkeypatch: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(store, "read_document", broken)
    response = signed_in.get("/config/")
    assert response.status_code == 503
    assert "The configuration store cannot be read: database is locked" in response.content.decode()


def test_a_signed_in_user_without_a_role_is_refused(outsider: Client, store: Store) -> None:
    assert outsider.get("/config/").status_code == 403


def test_a_nested_entry_is_summarised_and_a_conflicted_one_shows_its_problem(
    signed_in: Client, store: Store
) -> None:
    seed(store, NESTED_AICONFIGS)
    release_kill_switch(store, actor="t")
    page = signed_in.get("/config/").content.decode()
    nested = page[page.index(NESTED_KEY) : page.index(CONFLICTED_KEY)]
    assert "caching (5 min, prefixes ≥1,024 tokens)" in nested
    conflicted = page[page.index(CONFLICTED_KEY) :]
    assert "none (invalid entry)" in conflicted
    assert (
        "cachingEnabled is given twice and the values disagree: configuration.cachingEnabled "
        "is true but optimization.cache.enabled is false"
    ) in conflicted
    assert SECRET not in page
