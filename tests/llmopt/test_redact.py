from __future__ import annotations

from llmopt import redact


def test_it_masks_every_secret_named_field_at_any_depth() -> None:
    document = {
        "llm": [
            {
                "provider": "anthropic",
                "configuration": {"apiKey": "sk-ant-1", "maxTokens": 1024, "accessToken": "t"},
            }
        ],
        "password": "hunter2",
    }

    assert redact(document) == {
        "llm": [
            {
                "provider": "anthropic",
                "configuration": {
                    "apiKey": "********",
                    "maxTokens": 1024,
                    "accessToken": "********",
                },
            }
        ],
        "password": "********",
    }


def test_an_empty_secret_stays_empty_so_no_key_set_can_be_told_from_key_set() -> None:
    assert redact({"apiKey": "", "secret": None}) == {"apiKey": "", "secret": None}


def test_it_leaves_the_value_it_was_given_unchanged() -> None:
    entry = {"apiKey": "sk-ant-1"}
    redact(entry)
    assert entry == {"apiKey": "sk-ant-1"}


def test_a_webhook_url_keeps_its_host_and_loses_its_token() -> None:
    shown = redact(
        {
            "budgets": [
                {"name": "team", "webhook": "https://hooks.slack.com/services/T0/B0/XXXX"},
                {"name": "ops", "callbackUrl": "https://u:pw@alerts.example/x?token=s3cret"},
                {"name": "none", "webhook": ""},
            ]
        }
    )

    team, ops, none = shown["budgets"]
    assert team["webhook"] == "https://hooks.slack.com/services/********"
    assert "s3cret" not in ops["callbackUrl"] and "pw" not in ops["callbackUrl"]
    assert ops["callbackUrl"].startswith("https://********@alerts.example/")
    assert none["webhook"] == ""
