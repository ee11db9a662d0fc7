from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage

from llmopt.quality import check_refusal_and_safety, leaked_secrets

ANTHROPIC_KEY = "sk-ant-api03-" + "Zx8" * 12


@pytest.mark.parametrize(
    "answer",
    [
        "I can't help with that request.",
        "I'm sorry, but I cannot assist with writing malware.",
        "I am unable to provide instructions for that.",
        "I must decline to answer this.",
    ],
)
def test_a_refusal_phrase_at_the_start_is_fatal(answer: str) -> None:
    result = check_refusal_and_safety(answer)
    assert result.fatal
    assert result.score == 0.0
    assert result.details["flags"] == ["refusal_phrase"]


def test_a_caveat_deep_in_a_long_answer_is_not_a_refusal() -> None:
    answer = "Here is how to configure the retry policy. " * 10 + "I can't help with Windows."
    assert check_refusal_and_safety(answer).score == 1.0


def test_a_provider_refusal_is_read_from_the_metadata() -> None:
    message = AIMessage("", response_metadata={"stop_reason": "refusal"})
    result = check_refusal_and_safety(message)
    assert result.fatal
    assert "provider_refusal" in result.details["flags"]


def test_an_ai_disclaimer_halves_the_score_without_rejecting_the_answer() -> None:
    result = check_refusal_and_safety("As an AI language model, I'd suggest a list here.")
    assert result.score == 0.5
    assert not result.fatal


def test_a_leaked_key_is_fatal_and_never_copied_into_the_result() -> None:
    result = check_refusal_and_safety(f"Set ANTHROPIC_API_KEY={ANTHROPIC_KEY} and run it.")
    assert result.fatal
    assert result.details["flags"] == ["secret:anthropic_api_key"]
    assert ANTHROPIC_KEY not in json.dumps(result.to_dict())
    assert ANTHROPIC_KEY[:12] not in json.dumps(result.to_dict())


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", "private_key"),
        ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
        ("token: ghp_" + "a1B2" * 9, "github_token"),
        ("OPENAI_API_KEY=sk-proj-" + "q" * 40, "openai_api_key"),
    ],
)
def test_it_recognises_common_credential_shapes(text: str, kind: str) -> None:
    assert [s["kind"] for s in leaked_secrets(text)] == [kind]


def test_a_plain_helpful_answer_has_no_flag() -> None:
    result = check_refusal_and_safety("Use sorted(items, key=len) to sort by length.")
    assert result.score == 1.0
    assert result.details["flags"] == []
