from __future__ import annotations

import hashlib
import math

import pytest

from llmopt.batching import fingerprint


def test_the_fingerprint_is_the_sha256_of_compact_sorted_json() -> None:
    params = {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": []}
    canonical = b'{"max_tokens":5,"messages":[],"model":"claude-sonnet-4-6"}'

    assert fingerprint(params) == hashlib.sha256(canonical).hexdigest()


def test_key_order_does_not_change_the_fingerprint_at_any_depth() -> None:
    a = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9}
    b = {"max_tokens": 9, "messages": [{"content": "hi", "role": "user"}], "model": "m"}

    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    "changed",
    [
        {"max_tokens": 10},
        {"model": "other"},
        {"messages": [{"role": "user", "content": "hi!"}]},
        {"temperature": 0.0},
    ],
)
def test_any_change_to_the_request_changes_the_fingerprint(changed: dict[str, object]) -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9}

    assert fingerprint({**base, **changed}) != fingerprint(base)


def test_non_ascii_text_is_fingerprinted_as_utf8_not_escaped() -> None:
    params = {"text": "café"}

    assert fingerprint(params) == hashlib.sha256('{"text":"café"}'.encode()).hexdigest()


def test_a_body_json_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError):
        fingerprint({"when": object()})
    with pytest.raises(ValueError):
        fingerprint({"temperature": math.nan})
