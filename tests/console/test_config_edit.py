"""Editing one entry's flags: the core's validation inline, keys masked, stale saves refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from llmopt.config import load_document, update_entry_flags
from llmopt.store import Store

from .conftest import SECRET, seed

pytestmark = pytest.mark.django_db
KEY = "anthropic:claude-sonnet-4-6"
URL = "/config/entry/?key=anthropic%3Aclaude-sonnet-4-6"


def form_data(store: Store, **changes: Any) -> dict[str, Any]:
    document = load_document(store)
    config = document.entry(KEY).config
    assert config is not None
    data: dict[str, Any] = {"revision": document.revision}
    for name, value in config.flags().items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def test_the_page_shows_the_flags_and_capabilities_but_never_the_key(
    operator: Client, store: Store
) -> None:
    seed(store)
    page = operator.get(URL).content.decode()
    assert 'name="cacheTTL"' in page and "100,000 requests" in page
    assert "API key: set (never shown)" in page
    assert SECRET not in page


def test_an_operator_saves_a_flag_and_it_is_audited(operator: Client, store: Store) -> None:
    seed(store)
    response = operator.post(URL, form_data(store, cacheTTL=3600, reason="longer cache"))
    assert response.status_code == 302
    configuration = load_document(store).entry(KEY).configuration or {}
    assert configuration["cacheTTL"] == 3600 and configuration["apiKey"] == SECRET
    [record] = store.list_audit(action="config.update")
    assert (record.actor, record.reason) == ("operator", "longer cache")


def test_an_invalid_value_is_shown_beside_its_field_and_nothing_is_saved(
    operator: Client, store: Store
) -> None:
    seed(store)
    before = load_document(store).revision
    response = operator.post(URL, form_data(store, batchMaxSize=0, batchingEnabled=True))
    assert response.status_code == 422
    page = response.content.decode()
    assert "batchMaxSize must be a whole number from 1 to 100,000 requests" in page
    assert load_document(store).revision == before


def test_batching_on_a_provider_without_a_batch_api_is_refused_with_the_reason(
    operator: Client, store: Store
) -> None:
    seed(store)
    url = "/config/entry/?key=ollama%3Allama3.1"
    document = load_document(store)
    data = {
        "revision": document.revision,
        "batchingEnabled": "on",
        "cacheTTL": 300,
        "cacheBreakpoints": "auto",
        "batchMaxSize": 10,
        "batchTimeout": 30,
        "optimizationStrategy": "auto",
    }
    response = operator.post(url, data)
    assert response.status_code == 422
    assert "batchingEnabled cannot be on: ollama" in response.content.decode()


def test_a_stale_form_does_not_overwrite_and_shows_the_other_change(
    operator: Client, store: Store
) -> None:
    seed(store)
    stale = form_data(store, batchTimeout=45)
    update_entry_flags(
        store, KEY, {"batchTimeout": 90}, expected_revision=stale["revision"], actor="alice"
    )
    response = operator.post(URL, stale)
    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone else saved this configuration" in page
    assert 'value="90"' in page
    configuration = load_document(store).entry(KEY).configuration or {}
    assert configuration["batchTimeout"] == 90


def test_a_viewer_may_look_but_not_save(signed_in: Client, store: Store) -> None:
    seed(store)
    assert signed_in.get(URL).status_code == 200
    assert signed_in.post(URL, form_data(store, cacheTTL=3600)).status_code == 403
    assert (load_document(store).entry(KEY).configuration or {}).get("cacheTTL") != 3600


def test_an_unknown_entry_is_404(operator: Client, store: Store) -> None:
    seed(store)
    assert operator.get("/config/entry/?key=nope").status_code == 404


def test_csrf_is_enforced(store: Store, django_user_model: Any) -> None:
    from .conftest import user_in

    seed(store)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_in(django_user_model, "operator"))
    assert client.post(URL, form_data(store, cacheTTL=3600)).status_code == 403
