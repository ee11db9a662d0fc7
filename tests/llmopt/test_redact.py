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
