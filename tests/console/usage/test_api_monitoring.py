"""GET /api/monitoring/llm-optimization: the migration guide's monitoring view, per entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from console.accounts.tokens import issue_token
from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.store import Store, UsageRollup

from ..conftest import AICONFIGS, seed, user_in
from .conftest import NOW, OLLAMA, SONNET

pytestmark = pytest.mark.django_db
URL = "/api/monitoring/llm-optimization"
IDLE = "idle-batcher"
CONFLICTED = "conflicted"

DOCUMENT: dict[str, Any] = {
    "llm": [
        *AICONFIGS["llm"],  # Sonnet caching; Ollama with no flags (off)
        {
            "provider": "anthropic",
            "modelKey": IDLE,
            "configuration": {
                "model": "claude-haiku-4-5",
                "optimizationEnabled": True,
                "batchingEnabled": True,
            },
        },
        {
            "provider": "anthropic",
            "modelKey": CONFLICTED,
            "configuration": {
                "model": "claude-haiku-4-5",
                "optimizationEnabled": True,
                "cachingEnabled": True,
            },
            "optimization": {"cache": {"enabled": False}},
        },
    ]
}


def planned(
    ago: timedelta, entry_key: str, blocks: int, cached: int, tokens: int, under: int
) -> UsageRollup:
    return UsageRollup(
        minute=NOW - ago,
        entry_key=entry_key,
        calls=1,
        content_blocks=blocks,
        cached_blocks=cached,
        estimated_input_tokens=tokens,
        estimated_cached_tokens=under,
    )


@pytest.fixture
def monitored(store: Store) -> Store:
    seed(store, DOCUMENT)
    release_kill_switch(store, actor="setup")
    store.add_usage(
        [
            # Sonnet, today: 14:05 (the current hour, unfolded) and 11:50.
            planned(timedelta(minutes=15), SONNET, 10, 4, 8_000, 6_000),
            planned(timedelta(minutes=16), SONNET, 2, 1, 500, 400),
            planned(timedelta(hours=2, minutes=30), SONNET, 6, 2, 1_500, 600),
            # Three days ago: only in the 7-day and 30-day ranges.
            planned(timedelta(days=3), SONNET, 100, 50, 20_000, 10_000),
            # Ollama: the planner saw its requests but placed nothing.
            planned(timedelta(hours=3), OLLAMA, 3, 0, 900, 0),
            # An entry no longer in the configuration: not a service any more.
            planned(timedelta(hours=1), "removed:model", 5, 5, 100, 100),
        ]
    )
    return store


def test_each_entry_gets_the_guides_fields_summed_from_the_roll_ups(
    signed_in: Client, monitored: Store
) -> None:
    response = signed_in.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        SONNET: {
            "total_blocks": 18,
            "cached_blocks": 7,
            "estimated_tokens": 7_000,
            "hit_rate": "70.0%",  # 7,000 of 10,000 estimated input tokens
            "is_optimized": True,
        },
        OLLAMA: {
            "total_blocks": 3,
            "cached_blocks": 0,
            "estimated_tokens": 0,
            "hit_rate": "0.0%",
            "is_optimized": False,  # no flags: off
        },
        IDLE: {
            "total_blocks": 0,
            "cached_blocks": 0,
            "estimated_tokens": 0,
            "hit_rate": "0.0%",  # no usage at all
            "is_optimized": True,  # batching applies
        },
        CONFLICTED: {
            "total_blocks": 0,
            "cached_blocks": 0,
            "estimated_tokens": 0,
            "hit_rate": "0.0%",
            "is_optimized": False,  # its places disagree: it gets no optimization
        },
    }


@pytest.mark.parametrize(
    ("range_name", "blocks", "tokens", "hit_rate"),
    [("24h", 18, 7_000, "70.0%"), ("7d", 118, 17_000, "56.7%"), ("30d", 118, 17_000, "56.7%")],
)
def test_the_range_chooses_which_roll_ups_are_summed(
    signed_in: Client, monitored: Store, range_name: str, blocks: int, tokens: int, hit_rate: str
) -> None:
    sonnet = signed_in.get(f"{URL}?range={range_name}").json()[SONNET]

    assert (sonnet["total_blocks"], sonnet["estimated_tokens"]) == (blocks, tokens)
    assert sonnet["hit_rate"] == hit_rate  # 17,000 of 30,000 over 7 days


@pytest.mark.parametrize(
    ("under", "estimated", "shown"),
    [(1, 3, "33.3%"), (2, 3, "66.7%"), (999, 1_000, "99.9%"), (5, 5, "100.0%"), (0, 7, "0.0%")],
)
def test_the_hit_rate_is_formatted_as_the_guide_does(
    signed_in: Client, store: Store, under: int, estimated: int, shown: str
) -> None:
    seed(store)
    store.add_usage([planned(timedelta(minutes=1), SONNET, 1, 1, estimated, under)])

    assert signed_in.get(URL).json()[SONNET]["hit_rate"] == shown


def test_folding_the_minutes_into_hours_does_not_change_the_answer(
    signed_in: Client, monitored: Store
) -> None:
    before = {r: signed_in.get(f"{URL}?range={r}").json() for r in ("24h", "7d", "30d")}

    monitored.fold_usage(through=NOW)

    assert {r: signed_in.get(f"{URL}?range={r}").json() for r in before} == before


def test_nothing_is_optimized_while_the_kill_switch_is_engaged(
    signed_in: Client, monitored: Store
) -> None:
    engage_kill_switch(monitored, actor="oncall", reason="incident")

    body = signed_in.get(URL).json()

    assert {key: entry["is_optimized"] for key, entry in body.items()} == dict.fromkeys(body, False)
    assert body[SONNET]["total_blocks"] == 18  # the usage is still reported


def test_nothing_is_optimized_on_a_store_without_a_kill_switch_record(
    signed_in: Client, store: Store
) -> None:
    seed(store)

    body = signed_in.get(URL).json()

    assert body[SONNET]["is_optimized"] is False  # a missing record is the safe state


def test_a_store_without_a_configuration_answers_an_empty_object(
    signed_in: Client, store: Store
) -> None:
    assert signed_in.get(URL).json() == {}


@pytest.mark.parametrize("query", ["range=1y", "range=", "range=24H"])
def test_a_bad_range_is_a_422_in_the_error_envelope(
    signed_in: Client, monitored: Store, query: str
) -> None:
    response = signed_in.get(f"{URL}?{query}")

    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "range" and problem["message"]


def test_a_viewers_api_token_may_read_it(
    client: Client, django_user_model: Any, monitored: Store
) -> None:
    viewer = user_in(django_user_model, "viewer")
    _token, secret = issue_token(viewer, "dashboards", actor="setup")

    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 200 and SONNET in response.json()


def test_an_operator_may_read_it(operator: Client, monitored: Store) -> None:
    assert operator.get(URL).status_code == 200


def test_anonymous_callers_get_401_and_outsiders_403(outsider: Client, monitored: Store) -> None:
    anonymous = Client().get(URL)
    assert anonymous.status_code == 401 and anonymous.json()["detail"]
    refused = outsider.get(URL)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "this needs the view_console permission"}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_is_read_only(operator: Client, monitored: Store, method: str) -> None:
    assert getattr(operator, method)(URL).status_code == 405


def test_the_openapi_schema_describes_an_object_of_entries_and_the_errors(
    signed_in: Client,
) -> None:
    schema = signed_in.get("/api/openapi.json").json()
    operation = schema["paths"][URL]["get"]

    assert set(operation["responses"]) == {"200", "401", "403", "422", "503"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["type"] == "object"
    ref = answer["additionalProperties"]["$ref"].rsplit("/", 1)[-1]
    entry = schema["components"]["schemas"][ref]
    assert set(entry["required"]) == {
        "total_blocks",
        "cached_blocks",
        "estimated_tokens",
        "hit_rate",
        "is_optimized",
    }
    [range_parameter] = operation["parameters"]
    assert range_parameter["schema"]["enum"] == ["24h", "7d", "30d"]
