"""``/api/config``: entries read with keys masked, flag edits validated, stale edits refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from llmopt.config import FLAG_NAMES, OptimizationConfig, load_document
from llmopt.store import Store

from ..conftest import CONFLICTED_KEY, NESTED_AICONFIGS, NESTED_KEY, SECRET, seed, user_in

pytestmark = pytest.mark.django_db
KEY = "anthropic:claude-sonnet-4-6"
URL = "/api/config"
ENTRY_URL = f"/api/config/{KEY}"


def patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, body, content_type="application/json")


def test_an_operator_lists_every_entry_with_its_flags_and_summary(
    operator: Client, store: Store
) -> None:
    seed(store)
    response = operator.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["revision"] == load_document(store).revision
    [claude, ollama] = body["entries"]
    assert (claude["key"], claude["provider"], claude["model"]) == (
        KEY,
        "anthropic",
        "claude-sonnet-4-6",
    )
    assert claude["isDefault"] is True and ollama["isDefault"] is False
    assert claude["flags"]["cachingEnabled"] is True
    assert claude["summary"].startswith("caching")
    assert claude["problems"] == []


def test_a_viewer_reads_one_entry_with_its_api_key_masked(signed_in: Client, store: Store) -> None:
    seed(store)
    response = signed_in.get(ENTRY_URL)
    assert response.status_code == 200
    entry = response.json()["entry"]
    assert entry["key"] == KEY
    assert entry["configuration"]["apiKey"] not in ("", None, SECRET)


def test_an_unknown_key_is_a_404_in_the_error_envelope(operator: Client, store: Store) -> None:
    seed(store)
    response = operator.get("/api/config/nobody:nothing")
    assert response.status_code == 404
    assert "nobody:nothing" in response.json()["detail"]
    revision = load_document(store).revision
    body = {"flags": {"cacheTTL": 3600}, "revision": revision}
    response = patch(operator, "/api/config/nobody:nothing", body)
    assert response.status_code == 404
    assert load_document(store).revision == revision


@pytest.mark.parametrize("url", [URL, ENTRY_URL])
def test_anonymous_callers_get_401_and_outsiders_403(
    client: Client, django_user_model: Any, store: Store, url: str
) -> None:
    seed(store)
    response = client.get(url)
    assert response.status_code == 401
    assert response.json()["detail"]
    django_user_model.objects.create_user(username="nobody", password="pw-1")
    client.login(username="nobody", password="pw-1")
    response = client.get(url)
    assert response.status_code == 403
    assert "view_console" in response.json()["detail"]


def test_an_operator_changes_a_flag_and_it_is_saved_and_audited(
    operator: Client, store: Store
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = patch(
        operator,
        ENTRY_URL,
        {"flags": {"cacheTTL": 3600}, "revision": revision, "reason": "longer cache"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["revision"] != revision
    assert body["entry"]["flags"]["cacheTTL"] == 3600
    configuration = load_document(store).entry(KEY).configuration or {}
    assert configuration["cacheTTL"] == 3600 and configuration["apiKey"] == SECRET
    [record] = store.list_audit(action="config.update")
    assert (record.actor, record.reason, record.target) == (
        "operator",
        "longer cache",
        f"llm:{KEY}",
    )


def test_a_viewer_may_not_change_flags(signed_in: Client, store: Store) -> None:
    seed(store)
    revision = load_document(store).revision
    response = patch(signed_in, ENTRY_URL, {"flags": {"cacheTTL": 3600}, "revision": revision})
    assert response.status_code == 403
    assert "edit_flags" in response.json()["detail"]
    assert load_document(store).revision == revision


def test_an_anonymous_change_is_refused_with_401(client: Client, store: Store) -> None:
    seed(store)
    revision = load_document(store).revision
    response = patch(client, ENTRY_URL, {"flags": {"cacheTTL": 3600}, "revision": revision})
    assert response.status_code == 401
    assert load_document(store).revision == revision


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        ({"batchingEnabled": True, "batchMaxSize": 0}, "batchMaxSize"),
        ({"cacheTTL": 42}, "cacheTTL"),
        ({"model": "gpt-4o"}, "model"),
    ],
)
def test_invalid_flags_get_422_with_a_message_per_field_and_nothing_is_saved(
    operator: Client, store: Store, flags: dict[str, Any], field: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = patch(operator, ENTRY_URL, {"flags": flags, "revision": revision})
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert any(p["field"] == field and field in p["message"] for p in problems), problems
    assert load_document(store).revision == revision
    assert store.list_audit(action="config.update") == []


def test_a_malformed_body_gets_422_in_the_same_shape(operator: Client, store: Store) -> None:
    seed(store)
    response = patch(operator, ENTRY_URL, {"flags": {"cacheTTL": 3600}})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "revision" and problem["message"]


def test_a_stale_revision_gets_409_with_the_current_revision(
    operator: Client, store: Store
) -> None:
    seed(store)
    stale = load_document(store).revision
    first = patch(operator, ENTRY_URL, {"flags": {"cacheTTL": 3600}, "revision": stale})
    assert first.status_code == 200
    response = patch(operator, ENTRY_URL, {"flags": {"cacheTTL": 300}, "revision": stale})
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] and body["revision"] == first.json()["revision"]
    assert (load_document(store).entry(KEY).configuration or {})["cacheTTL"] == 3600


def test_a_change_without_a_csrf_token_is_refused(django_user_model: Any, store: Store) -> None:
    seed(store)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_in(django_user_model, "operator"))
    revision = load_document(store).revision
    response = patch(client, ENTRY_URL, {"flags": {"cacheTTL": 3600}, "revision": revision})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert load_document(store).revision == revision


def test_every_flag_of_the_core_is_listed_with_the_new_ones_defaulted(
    signed_in: Client, store: Store
) -> None:
    seed(store)
    flags = signed_in.get(ENTRY_URL).json()["entry"]["flags"]
    assert set(flags) == set(FLAG_NAMES)
    assert (flags["cacheMinTokens"], flags["logFallbacks"]) == (None, True)


def test_an_operator_sets_the_new_flags_and_an_out_of_range_minimum_is_a_422(
    operator: Client, store: Store
) -> None:
    seed(store)
    revision = load_document(store).revision
    refused = patch(operator, ENTRY_URL, {"flags": {"cacheMinTokens": 0}, "revision": revision})
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["field"] == "cacheMinTokens"
    body = {"flags": {"cacheMinTokens": 2048, "logFallbacks": False}, "revision": revision}
    response = patch(operator, ENTRY_URL, body)
    assert response.status_code == 200
    assert response.json()["entry"]["summary"] == "caching (5 min, prefixes ≥2,048 tokens)"
    configuration = load_document(store).entry(KEY).configuration or {}
    assert (configuration["cacheMinTokens"], configuration["logFallbacks"]) == (2048, False)


def test_a_nested_entry_is_read_with_its_flags_and_its_block_beside_the_configuration(
    signed_in: Client, store: Store
) -> None:
    seed(store, NESTED_AICONFIGS)
    entry = signed_in.get(f"{URL}/{NESTED_KEY}").json()["entry"]
    assert entry["flags"]["cachingEnabled"] is True
    assert entry["flags"]["cacheMinTokens"] == 1024
    assert entry["optimization"] == NESTED_AICONFIGS["llm"][0]["optimization"]
    assert "optimizationEnabled" not in entry["configuration"]
    plain = signed_in.get(URL).json()
    assert plain["entries"][1]["optimization"] == {"cache": {"enabled": False}}


def test_a_patch_to_a_nested_entry_writes_into_its_block_and_adds_no_flat_flags(
    operator: Client, store: Store
) -> None:
    seed(store, NESTED_AICONFIGS)
    revision = load_document(store).revision
    body = {"flags": {"cacheTTL": 3600, "logFallbacks": False}, "revision": revision}
    response = patch(operator, f"{URL}/{NESTED_KEY}", body)
    assert response.status_code == 200
    entry = response.json()["entry"]
    assert entry["optimization"]["cache"]["default_ttl_seconds"] == 3600
    assert entry["optimization"]["fallback"]["log_failures"] is False
    item = load_document(store).body["llm"][0]
    assert item["configuration"] == {"model": "claude-sonnet-4-6", "apiKey": SECRET}
    assert item["optimization"]["cache"]["default_ttl_seconds"] == 3600
    assert item["optimization"]["fallback"] == {"enabled": True, "log_failures": False}


def test_a_conflicted_entry_has_no_flags_and_a_patch_of_every_flag_resolves_it(
    operator: Client, store: Store
) -> None:
    seed(store, NESTED_AICONFIGS)
    entry = operator.get(f"{URL}/{CONFLICTED_KEY}").json()["entry"]
    assert entry["flags"] == {} and entry["summary"] == "none (invalid entry)"
    [problem] = entry["problems"]
    assert problem["field"] == "cachingEnabled" and "disagree" in problem["message"]

    every = OptimizationConfig(optimizationEnabled=True, cachingEnabled=True).flags()
    revision = load_document(store).revision
    response = patch(operator, f"{URL}/{CONFLICTED_KEY}", {"flags": every, "revision": revision})
    assert response.status_code == 200
    fixed = response.json()["entry"]
    assert fixed["problems"] == [] and fixed["summary"].startswith("caching")
    assert fixed["optimization"] == {"cache": {"enabled": True}}
    assert fixed["configuration"]["cachingEnabled"] is True


def test_a_secret_in_the_block_beside_the_configuration_is_masked(
    signed_in: Client, store: Store
) -> None:
    # A key the block does not know is a problem, but it is still shown: masked.
    body = {
        "llm": [
            {
                "provider": "anthropic",
                "configuration": {"model": "claude-sonnet-4-6"},
                "optimization": {"cache": {"enabled": True}, "apiKey": SECRET},
            }
        ]
    }
    seed(store, body)
    response = signed_in.get(URL)
    assert SECRET not in response.content.decode()
    [entry] = response.json()["entries"]
    assert entry["optimization"]["apiKey"] not in ("", None, SECRET)
    assert entry["optimization"]["cache"] == {"enabled": True}
    assert any("optimization.apiKey" in p["field"] for p in entry["problems"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"configuration": {"apiKey": "sk-ant-stolen"}}, "configuration"),
        ({"flags": {"cacheTTL": 3600}, "provider": "openAI"}, "provider"),
    ],
)
def test_an_unknown_top_level_field_is_a_422_naming_it_and_nothing_is_saved(
    operator: Client, store: Store, body: dict[str, Any], field: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    response = patch(operator, ENTRY_URL, {"flags": {}, "revision": revision, **body})
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [p["field"] for p in problems] == [field] and field in problems[0]["message"]
    assert load_document(store).revision == revision


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"revision": 7}, "revision"),
        ({"reason": 5}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "ok\u2066hidden\u2069"}, "reason"),
        ({"flags": {"cachingEnabled": "yes"}}, "cachingEnabled"),
        ({"flags": {"batchMaxSize": "5"}}, "batchMaxSize"),
        ({"flags": {"batchMaxSize": True}}, "batchMaxSize"),
    ],
)
def test_values_of_the_wrong_type_or_text_the_rule_refuses_are_a_422_on_their_field(
    operator: Client, store: Store, body: dict[str, Any], field: str
) -> None:
    seed(store)
    revision = load_document(store).revision
    sent = {"flags": {"cacheTTL": 3600}, "revision": revision, **body}
    response = patch(operator, ENTRY_URL, sent)
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == [field]
    assert load_document(store).revision == revision
    assert store.list_audit(action="config.update") == []


def test_a_patch_sent_as_text_plain_is_refused_with_415(operator: Client, store: Store) -> None:
    seed(store)
    revision = load_document(store).revision
    body = f'{{"flags": {{"cacheTTL": 3600}}, "revision": "{revision}"}}'
    response = operator.patch(ENTRY_URL, body, content_type="text/plain")
    assert response.status_code == 415
    assert load_document(store).revision == revision


def test_an_openai_entry_cannot_take_a_cache_lifetime_it_would_ignore(
    operator: Client, store: Store
) -> None:
    seed(store, {"llm": [{"provider": "openAI", "configuration": {"model": "gpt-4o-mini"}}]})
    revision = load_document(store).revision
    flags = {"optimizationEnabled": True, "cachingEnabled": True, "cacheTTL": 3600}
    response = patch(
        operator, "/api/config/openAI:gpt-4o-mini", {"flags": flags, "revision": revision}
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "cacheTTL"
    assert problem["message"].startswith("cacheTTL cannot be 3600 for openAI")
    assert load_document(store).revision == revision
