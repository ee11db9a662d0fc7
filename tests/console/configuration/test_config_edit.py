"""Editing one entry's flags: the core's validation inline, keys masked, stale saves refused."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from llmopt.config import FLAG_NAMES, load_document, update_entry_flags
from llmopt.store import Store

from ..conftest import CONFLICTED_KEY, NESTED_AICONFIGS, NESTED_KEY, SECRET, seed

pytestmark = pytest.mark.django_db
KEY = "anthropic:claude-sonnet-4-6"
URL = "/config/entry/?key=anthropic%3Aclaude-sonnet-4-6"


def form_data(store: Store, **changes: Any) -> dict[str, Any]:
    document = load_document(store)
    config = document.entry(KEY).config
    assert config is not None
    data: dict[str, Any] = {"revision": document.revision}
    for name, value in config.flags().items():
        if value is None:
            continue  # a blank field: cacheMinTokens' "the model's minimum"
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


def test_an_operator_chooses_the_lifetime_by_reuse_gaps(operator: Client, store: Store) -> None:
    seed(store)
    response = operator.post(URL, form_data(store, cacheTTL="auto", reason="bursty traffic"))
    assert response.status_code == 302
    configuration = load_document(store).entry(KEY).configuration or {}
    assert configuration["cacheTTL"] == "auto"
    assert "lifetime by re-use gaps" in operator.get("/config/").content.decode()


def test_an_invalid_value_is_shown_beside_its_field_and_nothing_is_saved(
    operator: Client, store: Store
) -> None:
    seed(store)
    before = load_document(store).revision
    response = operator.post(URL, form_data(store, batchMaxSize=0, batchingEnabled=True))
    assert response.status_code == 422
    [message] = response.context["form"].errors["batchMaxSize"]
    assert message == (
        "Batch size (requests) must be a whole number from 1 to 100,000 requests (got 0)"
    )
    assert "batchMaxSize must" not in response.content.decode()
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
    assert "Batch API cannot be on: ollama" in response.content.decode()


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
    from ..conftest import user_in

    seed(store)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_in(django_user_model, "operator"))
    assert client.post(URL, form_data(store, cacheTTL=3600)).status_code == 403


def url_of(key: str) -> str:
    return f"/config/entry/?key={quote(key, safe='')}"


def as_posted(initial: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the browser sends for a form showing ``initial`` after ``changes``."""
    values = {**initial, **changes}
    return {
        name: "on" if value is True else value
        for name, value in values.items()
        if value is not False and value is not None
    }


def shown_values(client: Client, key: str) -> dict[str, Any]:
    response = client.get(url_of(key))
    assert response.status_code == 200
    return dict(response.context["form"].initial)


def test_the_form_has_a_field_for_every_flag_of_the_core(operator: Client, store: Store) -> None:
    seed(store)
    form = operator.get(URL).context["form"]
    assert set(form.fields) - {"revision", "reason"} == set(FLAG_NAMES)
    grouped = [field.name for _legend, fields in form.groups() for field in fields]
    assert sorted(grouped) == sorted(FLAG_NAMES)


def test_the_new_flags_are_shown_in_the_caching_and_fallback_groups(
    operator: Client, store: Store
) -> None:
    seed(store)
    page = operator.get(URL).content.decode()
    caching = page[page.index("<legend>Prompt caching</legend>") : page.index("<legend>Batch")]
    assert 'name="cacheMinTokens"' in caching and "the model&#x27;s own minimum" in caching
    assert 'name="cacheSystemTTL"' in caching
    assert '<option value="" selected>same as the cache lifetime</option>' in caching
    fallback = page[page.index("<legend>Fallback</legend>") :]
    assert 'name="logFallbacks"' in fallback and "Log each fallback as a warning" in fallback
    assert re.search(r'<input[^>]*name="logFallbacks"[^>]*checked', fallback)  # default: on


def test_an_operator_sets_the_shortest_cached_prefix_and_blank_means_the_models_minimum(
    operator: Client, store: Store
) -> None:
    seed(store)
    assert operator.post(URL, form_data(store, cacheMinTokens=2048)).status_code == 302
    configuration = load_document(store).entry(KEY).configuration or {}
    assert configuration["cacheMinTokens"] == 2048
    assert "caching (5 min, prefixes ≥2,048 tokens)" in operator.get("/config/").content.decode()

    data = form_data(store)
    del data["cacheMinTokens"]  # the field left blank
    assert operator.post(URL, data).status_code == 302
    assert (load_document(store).entry(KEY).configuration or {})["cacheMinTokens"] is None


def test_a_shortest_prefix_out_of_range_is_refused_beside_its_field(
    operator: Client, store: Store
) -> None:
    seed(store)
    before = load_document(store).revision
    response = operator.post(URL, form_data(store, cacheMinTokens=0))
    assert response.status_code == 422
    assert "Shortest prefix to cache (tokens) must be a whole number of tokens from 1 to " in (
        response.content.decode()
    )
    assert response.context["form"].errors["cacheMinTokens"]
    assert load_document(store).revision == before


def test_an_operator_gives_the_tools_and_system_prompt_a_longer_lifetime(
    operator: Client, store: Store
) -> None:
    seed(store)
    assert operator.post(URL, form_data(store, cacheSystemTTL=3600)).status_code == 302
    assert (load_document(store).entry(KEY).configuration or {})["cacheSystemTTL"] == 3600
    assert "caching (5 min, tools and system 60 min)" in operator.get("/config/").content.decode()

    assert operator.post(URL, form_data(store, cacheSystemTTL="")).status_code == 302
    assert (load_document(store).entry(KEY).configuration or {})["cacheSystemTTL"] is None


def test_a_system_lifetime_shorter_than_the_cache_lifetime_is_refused_beside_its_field(
    operator: Client, store: Store
) -> None:
    seed(store)
    before = load_document(store).revision
    response = operator.post(URL, form_data(store, cacheTTL=3600, cacheSystemTTL=300))
    assert response.status_code == 422
    [message] = response.context["form"].errors["cacheSystemTTL"]
    assert message.startswith(
        "Tools and system prompt lifetime cannot be 300 while cache lifetime is 3600"
    )
    assert load_document(store).revision == before


def test_an_operator_turns_fallback_logging_down_to_debug(operator: Client, store: Store) -> None:
    seed(store)
    assert operator.post(URL, form_data(store, logFallbacks=False)).status_code == 302
    config = load_document(store).entry(KEY).config
    assert config is not None and config.log_fallbacks is False
    assert (load_document(store).entry(KEY).configuration or {})["logFallbacks"] is False


def test_a_nested_entry_shows_its_block_flags_and_a_save_writes_into_the_block(
    operator: Client, store: Store
) -> None:
    seed(store, NESTED_AICONFIGS)
    response = operator.get(url_of(NESTED_KEY))
    shown = response.context["form"].initial
    assert (shown["optimizationEnabled"], shown["cachingEnabled"]) == (True, True)
    assert shown["cacheMinTokens"] == 1024
    assert "Flags kept in: <code>optimization</code>" in response.content.decode()

    posted = as_posted(shown, cacheTTL=3600, cacheMinTokens=4096, logFallbacks=False)
    assert operator.post(url_of(NESTED_KEY), posted).status_code == 302

    item = load_document(store).body["llm"][0]
    assert item["configuration"] == {"model": "claude-sonnet-4-6", "apiKey": SECRET}
    assert item["optimization"] == {
        "cache": {
            "enabled": True,
            "default_ttl_seconds": 3600,
            "min_tokens_to_cache": 4096,
            "auto_detect_cacheable": True,
        },
        "fallback": {"enabled": True, "log_failures": False},
        "provider": "anthropic",
    }
    assert load_document(store).entry(NESTED_KEY).problems == ()


def test_a_conflicted_entry_shows_its_problem_and_a_save_writes_both_places(
    operator: Client, store: Store
) -> None:
    seed(store, NESTED_AICONFIGS)
    response = operator.get(url_of(CONFLICTED_KEY))
    page = response.content.decode()
    assert 'id="entry-problems"' in page
    assert "cachingEnabled is given twice and the values disagree" in page
    assert "The form starts from the flags kept flat in its configuration" in page
    shown = response.context["form"].initial
    assert (shown["optimizationEnabled"], shown["cachingEnabled"]) == (True, True)

    assert operator.post(url_of(CONFLICTED_KEY), as_posted(shown)).status_code == 302

    entry = load_document(store).entry(CONFLICTED_KEY)
    assert entry.problems == ()
    assert entry.config is not None and entry.config.applies_caching
    assert (entry.configuration or {})["cachingEnabled"] is True
    assert entry.optimization == {"cache": {"enabled": True}}
    page = operator.get(url_of(CONFLICTED_KEY)).content.decode()
    assert 'id="entry-problems"' not in page


def test_an_entry_with_an_unknown_block_key_starts_from_the_defaults_and_says_so(
    operator: Client, store: Store
) -> None:
    body = {
        "llm": [
            {
                "provider": "anthropic",
                "modelKey": "typo",
                "configuration": {"model": "claude-sonnet-4-6"},
                "optimization": {"cache": {"enabled": True, "ttl_secs": 300}},
            }
        ]
    }
    seed(store, body)
    response = operator.get(url_of("typo"))
    page = response.content.decode()
    assert "optimization.cache.ttl_secs is not a setting llmopt knows" in page
    assert "The form starts from the defaults." in page
    assert response.context["form"].initial["cachingEnabled"] is False


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("cacheTTL", "7200", "Cache lifetime must be 300 or 3600 seconds"),
        ("cacheSystemTTL", "60", "Tools and system prompt lifetime must be 300 or 3600 seconds"),
        ("cacheBreakpoints", "everywhere", "Breakpoints must be one of 'auto'"),
        ("optimizationStrategy", "fast", "Strategy must be one of 'auto'"),
        ("batchTimeout", "soon", "Batch timeout (seconds) must be a whole number of seconds"),
        ("batchMaxSize", "", "Batch size (requests) must be a whole number from 1"),
    ],
)
def test_a_value_the_form_cannot_read_gets_the_cores_rule_under_the_fields_label(
    operator: Client, store: Store, field: str, value: str, says: str
) -> None:
    seed(store)
    before = load_document(store).revision
    response = operator.post(URL, {**form_data(store), field: value})
    assert response.status_code == 422
    [message] = response.context["form"].errors[field]
    assert message.startswith(says) and "Select a valid choice" not in message
    assert load_document(store).revision == before


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("x" * 501, "Reason must be at most 500 characters (got 501)"),
        ("cheaper\u202etxt.exe", "U+202E"),
        ("cheaper\x00", "U+0000"),
        ("two\nlines", "U+000A"),
        ("isolate \u2067x\u2069", "U+2067"),
    ],
)
def test_a_reason_the_free_text_rule_refuses_is_shown_beside_it_and_nothing_is_saved(
    operator: Client, store: Store, reason: str, says: str
) -> None:
    seed(store)
    before = load_document(store).revision
    response = operator.post(URL, form_data(store, cacheTTL=3600, reason=reason))
    assert response.status_code == 422
    [message] = response.context["form"].errors["reason"]
    assert says in message
    field = response.content.decode().split('id="field-reason"')[1].split("</div>\n")[0]
    assert "must" in field
    assert load_document(store).revision == before
    assert store.list_audit(action="config.update") == []


def test_the_reason_field_says_how_long_it_may_be(operator: Client, store: Store) -> None:
    seed(store)
    page = operator.get(URL).content.decode()
    assert re.search(r'<input[^>]*name="reason"[^>]*maxlength="500"', page)


def test_an_openai_entry_cannot_save_a_cache_lifetime_it_would_ignore(
    operator: Client, store: Store
) -> None:
    seed(
        store,
        {
            "llm": [
                {
                    "provider": "openAI",
                    "configuration": {"model": "gpt-4o-mini", "apiKey": SECRET},
                }
            ]
        },
    )
    url = "/config/entry/?key=openAI%3Agpt-4o-mini"
    revision = load_document(store).revision
    data = {
        "revision": revision,
        "optimizationEnabled": "on",
        "cachingEnabled": "on",
        "cacheTTL": 3600,
        "cacheBreakpoints": "auto",
        "batchMaxSize": 100,
        "batchTimeout": 30,
        "optimizationStrategy": "auto",
    }
    response = operator.post(url, data)
    assert response.status_code == 422
    [message] = response.context["form"].errors["cacheTTL"]
    assert message.startswith("Cache lifetime cannot be 3600 for openAI")
    assert load_document(store).revision == revision
    data["cacheTTL"] = 300
    assert operator.post(url, data).status_code == 302
