from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, HumanMessage

from llmopt.quality import check_completeness, is_truncated
from llmopt.sandbox import SandboxServer, running_sandbox

QUESTIONS = """I'm choosing a Python collection type. Three questions:
1. When should I use a list?
2) When is a tuple better?
Q3: What does a set give me?
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def test_an_answer_cut_at_max_tokens_by_the_sandbox_scores_zero(sandbox: SandboxServer) -> None:
    model = ChatAnthropic(  # type: ignore[call-arg]
        model="claude-sonnet-4-6",
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        max_tokens=5,
        max_retries=0,
    )
    answer = model.invoke("Explain in detail how TCP congestion control works.")
    assert answer.response_metadata["stop_reason"] == "max_tokens"
    result = check_completeness(answer, request="Explain TCP congestion control.")
    assert result.score == 0.0
    assert "max_tokens" in result.reason


def test_an_answer_that_ended_by_itself_is_complete(sandbox: SandboxServer) -> None:
    model = ChatAnthropic(  # type: ignore[call-arg]
        model="claude-sonnet-4-6",
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        max_tokens=500,
        max_retries=0,
    )
    answer = model.invoke("Say hello.")
    assert check_completeness(answer).score == 1.0


@pytest.mark.parametrize(
    "metadata",
    [{"stop_reason": "max_tokens"}, {"finish_reason": "length"}, {"done_reason": "length"}],
    ids=["anthropic", "openai", "ollama"],
)
def test_it_reads_each_providers_truncation_signal(metadata: dict[str, str]) -> None:
    message = AIMessage("The first step is", response_metadata=metadata)
    assert is_truncated(message)
    assert check_completeness(message).score == 0.0


def test_a_plain_text_answer_is_not_called_truncated() -> None:
    assert not is_truncated("The first step is")


def test_an_answer_that_skips_a_numbered_question_loses_its_share() -> None:
    answer = "1. For ordered, changing data.\n2. When the values should not change."
    result = check_completeness(answer, request=QUESTIONS)
    assert result.score == pytest.approx(2 / 3)
    assert result.details["missing"] == [3]
    assert "missing: 3" in result.reason


def test_numbered_answers_in_markdown_count() -> None:
    answer = "**1.** Ordered data.\n\n**2.** Fixed records.\n\n### 3) Fast membership tests."
    assert check_completeness(answer, request=[HumanMessage(QUESTIONS)]).score == 1.0


def test_an_unnumbered_answer_with_a_paragraph_per_question_is_given_the_benefit() -> None:
    answer = "Lists hold ordered data.\n\nTuples hold fixed records.\n\nSets test membership."
    assert check_completeness(answer, request=QUESTIONS).score == 1.0


def test_decimals_in_the_request_are_not_questions() -> None:
    request = "Compare version 1.5 and 2.0 of the API.\n3.14 is pi."
    assert check_completeness("Version 2.0 adds streaming.", request=request).score == 1.0


def test_an_empty_answer_is_incomplete() -> None:
    assert check_completeness(AIMessage(""), request="Hi").score == 0.0
