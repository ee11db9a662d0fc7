"""Against the sandbox's Messages API: costs come from the answers' real usage."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, BaseMessage

from llmopt.orchestration import MultiLLMOrchestrator
from llmopt.providers import TokenUsage, cost_of
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.wrapper import OptimizedLLMWrapper


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def claude(sandbox: SandboxServer, model: str) -> ChatAnthropic:
    return ChatAnthropic(  # type: ignore[call-arg]
        model=model,
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        max_tokens=64,
        max_retries=0,
    )


@pytest.fixture
def orchestrator(sandbox: SandboxServer) -> MultiLLMOrchestrator:
    return MultiLLMOrchestrator(
        {
            "haiku": claude(sandbox, "claude-haiku-4-5"),
            "sonnet": claude(sandbox, "claude-sonnet-4-6"),
        }
    )


async def test_parallel_calls_are_priced_from_each_answers_usage(
    sandbox: SandboxServer, orchestrator: MultiLLMOrchestrator
) -> None:
    result = await orchestrator.aparallel_llm_call("Name a colour of the sky.")

    assert [call.entry for call in result.answers] == ["haiku", "sonnet"]
    for call, model in zip(result.calls, ["claude-haiku-4-5", "claude-sonnet-4-6"], strict=True):
        assert call.answer is not None and call.answer.usage_metadata is not None
        usage = TokenUsage.from_langchain(call.answer.usage_metadata)
        expected = cost_of(usage, provider="anthropic", model=model)
        assert expected is not None and call.cost == expected.total > 0
        assert call.input_tokens == call.answer.usage_metadata["input_tokens"]
    haiku, sonnet = result.calls
    assert haiku.cost is not None and sonnet.cost is not None and haiku.cost < sonnet.cost
    assert result.total_cost == sandbox.billing().total.cost_usd


def test_a_cascade_pays_for_the_strong_model_only_when_it_escalates(
    sandbox: SandboxServer, orchestrator: MultiLLMOrchestrator
) -> None:
    def distrust_haiku(request: Sequence[BaseMessage], answer: AIMessage) -> float:
        return 0.0 if "haiku" in str(answer.response_metadata.get("model_name")) else 1.0

    cheap = orchestrator.cascade_execution("Say hello.", ["haiku", "sonnet"])
    assert cheap.called == ("haiku",)
    cheap_bill = sandbox.billing().total.cost_usd
    assert cheap.total_cost == cheap_bill

    escalated = orchestrator.cascade_execution(
        "Say hello.", ["haiku", "sonnet"], scorer=distrust_haiku
    )

    assert escalated.called == ("haiku", "sonnet")
    assert escalated.answer is not None and escalated.answer.entry == "sonnet"
    bill = sandbox.billing().total.cost_usd
    assert cheap_bill is not None and bill is not None
    assert escalated.total_cost == bill - cheap_bill
    assert escalated.total_cost > cheap.total_cost > Decimal(0)


def test_an_optimized_wrapper_entry_is_priced_under_its_provider_and_model(
    sandbox: SandboxServer,
) -> None:
    wrapper = OptimizedLLMWrapper(claude(sandbox, "claude-haiku-4-5"), "anthropic", {})
    orchestrator = MultiLLMOrchestrator({"anthropic:claude-haiku-4-5": wrapper})

    (call,) = orchestrator.parallel_llm_call("Say hello.").calls

    assert call.cost is not None and call.cost > 0
    assert call.cost == sandbox.billing().total.cost_usd
