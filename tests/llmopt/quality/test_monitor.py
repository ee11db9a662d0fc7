from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from llmopt.quality import LLMQualityMonitor, judge_response
from llmopt.quality._judge import parse_judge_reply
from llmopt.sandbox import SandboxServer, running_sandbox

SCHEMA = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
CONTEXT = ["Our refund window is 30 days from delivery."]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def sandbox_model(sandbox: SandboxServer, max_tokens: int) -> ChatAnthropic:
    return ChatAnthropic(  # type: ignore[call-arg]
        model="claude-sonnet-4-6",
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        max_tokens=max_tokens,
        max_retries=0,
    )


def test_a_good_json_answer_scores_high_and_skipped_checks_say_why() -> None:
    monitor = LLMQualityMonitor()
    score = monitor.evaluate_response(
        "Which city is the capital of France? Answer as JSON with a city field.",
        AIMessage('{"city": "Paris"}', response_metadata={"stop_reason": "end_turn"}),
        schema=SCHEMA,
    )
    assert score.part("code") is not None
    assert score.part("code").score == 1.0  # type: ignore[union-attr]
    assert set(score.skipped) == {"support", "judge"}
    assert score.combined > 0.8


def test_a_refusal_scores_zero_whatever_else_holds() -> None:
    score = LLMQualityMonitor(embeddings="lexical").evaluate_response(
        "How do I reset my password?", "I'm sorry, but I can't help with that."
    )
    assert score.combined == 0.0
    assert score.fatal


def test_a_truncated_sandbox_answer_scores_below_the_same_answer_finished(
    sandbox: SandboxServer,
) -> None:
    monitor = LLMQualityMonitor(embeddings="lexical")
    question = "Explain in detail how TCP congestion control works."
    cut = monitor.evaluate_response(question, sandbox_model(sandbox, 5).invoke(question))
    whole = monitor.evaluate_response(question, sandbox_model(sandbox, 500).invoke(question))
    assert cut.part("completeness").score == 0.0  # type: ignore[union-attr]
    assert whole.part("completeness").score == 1.0  # type: ignore[union-attr]
    assert cut.combined < whole.combined


def test_a_rag_answer_with_an_invented_claim_is_marked_down() -> None:
    monitor = LLMQualityMonitor(embeddings="lexical")
    grounded = monitor.evaluate_response(
        "How long is the refund window?",
        "The refund window is 30 days from delivery.",
        context=CONTEXT,
    )
    invented = monitor.evaluate_response(
        "How long is the refund window?",
        "The refund window is 90 days from delivery.",
        context=CONTEXT,
    )
    assert grounded.part("support").score == 1.0  # type: ignore[union-attr]
    assert invented.part("support").score == 0.0  # type: ignore[union-attr]
    assert monitor.check_hallucinations("Refunds take 90 days.", CONTEXT).score == 0.0


def test_validate_code_is_the_design_documents_name_for_the_code_check() -> None:
    monitor = LLMQualityMonitor(embeddings="lexical")
    assert monitor.validate_code("SELECT FROM WHERE;", language="sql").score == 0.0


def test_an_opt_in_judge_adds_its_score() -> None:
    judge = GenericFakeChatModel(
        messages=iter([AIMessage('Here you go: {"score": 8, "reason": "Correct."}')])
    )
    score = LLMQualityMonitor(embeddings="lexical", judge=judge).evaluate_response(
        "What is 2 + 2?", "2 + 2 is 4."
    )
    assert score.part("judge") is not None
    assert score.part("judge").score == 0.8  # type: ignore[union-attr]
    assert score.judge_cost_usd is None  # a fake model has no price


def test_a_judge_on_the_sandbox_is_paid_for_even_when_its_reply_has_no_score(
    sandbox: SandboxServer,
) -> None:
    part, cost, note = judge_response(sandbox_model(sandbox, 50), "What is 2 + 2?", "4")
    assert part is None
    assert "no score" in note
    assert cost is not None
    assert cost > 0


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"score": 10, "reason": "Perfect."}', (1.0, "Perfect.")),
        ('```json\n{"score": 3}\n```', (0.3, "")),
        ('score: "score": 7 (broken json', (0.7, "")),
        ('{"score": 42}', (1.0, "")),
        ("Looks fine to me.", None),
    ],
)
def test_the_judges_reply_is_read_leniently(reply: str, expected: tuple[float, str] | None) -> None:
    assert parse_judge_reply(reply) == expected
