from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage

from llmopt.orchestration import MultiLLMOrchestrator

from .conftest import Failing, Hanging, scripted


def test_every_entry_answers_in_the_order_given() -> None:
    orchestrator = MultiLLMOrchestrator(
        {"a": scripted("yes"), "b": scripted("no"), "c": scripted("yes")}
    )

    result = orchestrator.parallel_llm_call("Is the sky blue?")

    assert [(call.entry, call.text) for call in result.calls] == [
        ("a", "yes"),
        ("b", "no"),
        ("c", "yes"),
    ]
    assert not result.failures


def test_a_string_request_reaches_the_model_as_one_user_message() -> None:
    model = scripted("ok")

    MultiLLMOrchestrator({"a": model}).parallel_llm_call("hello there")

    assert [(m.type, m.text) for m in model.seen[0]] == [("human", "hello there")]


def test_a_failing_and_a_hanging_entry_leave_the_other_answers(hanging: Hanging) -> None:
    orchestrator = MultiLLMOrchestrator(
        [("good", scripted("42")), ("down", Failing()), ("slow", hanging)]
    )

    result = orchestrator.parallel_llm_call("q", timeout_seconds=0.2)

    assert [call.entry for call in result.answers] == ["good"]
    down, slow = result.failures
    assert down.error == "RuntimeError: provider is down"
    assert not down.timed_out
    assert slow.timed_out
    assert slow.latency_seconds == 0.2


async def test_async_calls_time_out_one_by_one_and_keep_partial_results() -> None:
    orchestrator = MultiLLMOrchestrator(
        [("good", scripted("42")), ("slow", Hanging()), ("down", Failing())]
    )

    result = await orchestrator.aparallel_llm_call("q", timeout_seconds=0.05)

    assert [call.text for call in result.answers] == ["42"]
    assert [(call.entry, call.timed_out) for call in result.failures] == [
        ("slow", True),
        ("down", False),
    ]


def test_a_subset_of_entries_can_be_asked_and_an_unknown_one_is_refused() -> None:
    orchestrator = MultiLLMOrchestrator({"a": scripted("1"), "b": scripted("2")})

    assert [c.entry for c in orchestrator.parallel_llm_call("q", ["b"]).calls] == ["b"]
    with pytest.raises(KeyError, match="unknown entry 'z'"):
        orchestrator.parallel_llm_call("q", ["z"])


def test_repeated_entry_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        MultiLLMOrchestrator([("a", scripted("1")), ("a", scripted("2"))])


def test_tokens_are_recorded_and_an_unknown_price_is_none_not_zero() -> None:
    answer = AIMessage(
        "hi", usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}
    )
    result = MultiLLMOrchestrator({"fake": scripted(answer)}).parallel_llm_call("q")

    (call,) = result.calls
    assert (call.input_tokens, call.output_tokens, call.cost) == (10, 3, None)
    assert result.total_cost == Decimal(0)
    assert result.to_dict()["unpricedCalls"] == 1


def test_the_record_reads_as_plain_json_values() -> None:
    started = datetime(2026, 3, 1, tzinfo=UTC)
    orchestrator = MultiLLMOrchestrator(
        [("good", scripted("42")), ("down", Failing())], clock=lambda: started
    )

    record = orchestrator.parallel_llm_call("q").to_dict()

    assert record["strategy"] == "parallel"
    assert record["startedAt"] == "2026-03-01T00:00:00+00:00"
    assert record["totalCostUsd"] == "0"
    assert [(c["entry"], c["ok"], c["text"]) for c in record["calls"]] == [
        ("good", True, "42"),
        ("down", False, None),
    ]
