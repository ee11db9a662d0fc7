"""Faults at the provider: every caller still gets an answer, and every answer is counted once."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.sandbox import FaultPlan, FaultRule, SandboxServer

from .conftest import SYSTEM, chat, wrap

CALLS = 500
# Three rules of 7.2% each: about 20% of requests fail, a third each as 429, 529 and 500.
# The sandbox draws per request (text and attempt), so these calls fail the same way in
# every run however the 16 threads interleave: with this seed, 3 calls fail all three SDK
# attempts and are answered by the fallback.
FAULTS = FaultPlan(
    seed=20261122,
    rules=(
        FaultRule.fail_rate(0.072, "rate_limit", retry_after=0.01),
        FaultRule.fail_rate(0.072, "overloaded", retry_after=0.01),
        FaultRule.fail_rate(0.072, "server_error", retry_after=0.01),
    ),
)


def test_with_a_fifth_of_requests_failing_all_500_calls_are_answered_and_counted_once(
    sandbox: SandboxServer,
) -> None:
    sandbox.set_faults(FAULTS)
    model = wrap(chat(sandbox, max_retries=2))
    prompts = [[SystemMessage(SYSTEM), HumanMessage(f"request {n}")] for n in range(CALLS)]
    answers = model.batch(prompts, config={"max_concurrency": 16})
    assert len(answers) == CALLS and all(answer.content for answer in answers)

    billed = sandbox.billing().total
    assert billed.requests_errored > CALLS * 0.15  # the faults really happened
    assert billed.requests_succeeded == CALLS
    stats = model.get_cache_stats()
    assert (stats["calls"], stats["errors"]) == (CALLS, 0)
    assert stats["fallbacks"] > 0  # the SDK's retries alone were not enough
    assert stats["input_tokens"] == billed.input_tokens
    assert stats["cache_read_tokens"] == billed.cache_read_tokens
    assert (
        stats["cache_write_tokens"] == billed.cache_write_5m_tokens + billed.cache_write_1h_tokens
    )
    assert stats["output_tokens"] == billed.output_tokens
