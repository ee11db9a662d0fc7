"""Budget webhooks shown, logged and audited masked; saving a masked one keeps the stored URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmopt.config import load_document
from llmopt.errors import ConfigError, ConflictError
from llmopt.store import AuditEvent, DocumentName, SQLiteStore
from llmopt.tokens import masked_budgets, masked_webhook, update_budgets

SLACK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
OTHER_SLACK = "https://hooks.slack.com/services/T000/B111/YYYYsecretYYYY"
DAILY = {"name": "daily", "period": "day", "limitUsd": 10, "webhook": SLACK}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "llmopt.db")
    yield opened
    opened.close()


def seed(store: SQLiteStore, budgets: list[dict[str, Any]]) -> str:
    written = store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [], "budgets": budgets},
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )
    return written.revision


def save(store: SQLiteStore, budgets: list[dict[str, Any]]) -> list[Any]:
    revision = load_document(store).revision or ""
    update_budgets(store, budgets, expected_revision=revision, actor="ops")
    stored: list[Any] = load_document(store).body["budgets"]
    return stored


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (SLACK, "https://hooks.slack.com/services/********"),
        ("https://ops:pw@alerts.example:8443/hook", "https://********@alerts.example:8443/********"),
        ("https://alerts.example/budget?token=s3cret&x", "https://alerts.example/********?token=********&********"),
        ("https://webhook.site/6f1c0c55-8a1e", "https://webhook.site/********"),
        ("https://events.example/integration/K3Y/enqueue", "https://events.example/integration/********"),
        ("https://alerts.example/a#s3cret", "https://alerts.example/********#********"),
        ("https://alerts.example/", "https://alerts.example/"),
        ("http://[::1]:9000/x/y", "http://[::1]:9000/x/********"),
        ("https://alerts.example:99999/x", "********"),
    ],
)  # fmt: skip
def test_a_webhook_is_masked_past_its_host_and_masking_it_again_changes_nothing(
    url: str, shown: str
) -> None:
    assert masked_webhook(url) == shown
    assert masked_webhook(shown) == shown


def test_masked_budgets_masks_only_the_webhooks_and_leaves_its_input_alone() -> None:
    budgets = [DAILY, {"name": "no hook", "period": "month", "limitTokens": 5}, "junk"]
    shown = masked_budgets(budgets)
    assert shown == [
        {**DAILY, "webhook": "https://hooks.slack.com/services/********"},
        budgets[1],
        "junk",
    ]
    assert budgets[0]["webhook"] == SLACK
    assert masked_budgets({"not": "a list"}) == {"not": "a list"}


def test_saving_the_masked_list_back_keeps_the_stored_webhook(store: SQLiteStore) -> None:
    seed(store, [DAILY])
    edited = [{**masked_budgets([DAILY])[0], "limitUsd": 20}]
    assert save(store, edited) == [{**DAILY, "limitUsd": 20}]


def test_a_renamed_budget_keeps_the_one_stored_webhook_that_masks_alike(
    store: SQLiteStore,
) -> None:
    seed(store, [DAILY])
    renamed = [{**masked_budgets([DAILY])[0], "name": "per day"}]
    assert save(store, renamed)[0]["webhook"] == SLACK


def test_a_whole_new_url_replaces_the_stored_webhook(store: SQLiteStore) -> None:
    seed(store, [DAILY])
    assert save(store, [{**DAILY, "webhook": OTHER_SLACK}])[0]["webhook"] == OTHER_SLACK


@pytest.mark.parametrize(
    ("stored", "submitted", "words"),
    [
        ([DAILY], "https://other.example/services/********", "masks no stored webhook"),
        (
            [{**DAILY, "name": "a"}, {**DAILY, "name": "b", "webhook": OTHER_SLACK}],
            "https://hooks.slack.com/services/********",
            "masks several stored webhooks",
        ),
    ],
)
def test_a_masked_webhook_that_masks_no_single_stored_one_is_refused_and_nothing_is_written(
    store: SQLiteStore, stored: list[dict[str, Any]], submitted: str, words: str
) -> None:
    revision = seed(store, stored)
    with pytest.raises(ConfigError) as caught:
        update_budgets(
            store,
            [{**DAILY, "name": "new", "webhook": submitted}],
            expected_revision=revision,
            actor="ops",
        )
    assert words in " ".join(caught.value.by_field()["budgets[0].webhook"])
    assert load_document(store).revision == revision


def test_a_stale_save_is_a_conflict_even_with_a_masked_webhook(store: SQLiteStore) -> None:
    stale = seed(store, [DAILY])
    save(store, [{**DAILY, "webhook": OTHER_SLACK}])
    with pytest.raises(ConflictError):
        update_budgets(store, masked_budgets([DAILY]), expected_revision=stale, actor="ops")


def test_the_audit_record_holds_the_webhooks_masked(store: SQLiteStore) -> None:
    seed(store, [DAILY])
    save(store, [{**DAILY, "webhook": OTHER_SLACK}])
    [event] = store.list_audit(action="budgets.update")
    assert event.before == masked_budgets([DAILY])
    assert event.after == masked_budgets([{**DAILY, "webhook": OTHER_SLACK}])
    assert "secret" not in repr((event.before, event.after))
