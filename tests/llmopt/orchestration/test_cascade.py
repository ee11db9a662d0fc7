from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage

from llmopt.orchestration import MultiLLMOrchestrator, rank_results, usable_answer_score

from .conftest import Failing, Hanging, StepTimer, scripted


def mentions_paris(request: Sequence[BaseMessage], answer: AIMessage) -> float:
    return 1.0 if "paris" in answer.text.lower() else 0.2


def test_the_cascade_stops_at_the_cheap_model_when_its_answer_scores_well() -> None:
    cheap, strong = scripted("Paris"), scripted("Paris, of course")
    orchestrator = MultiLLMOrchestrator({"cheap": cheap, "strong": strong})

    result = orchestrator.cascade_execution(
        "Capital of France?", threshold=0.8, scorer=mentions_paris
    )

    assert result.accepted
    assert result.called == ("cheap",)
    assert (result.text, result.calls[0].score) == ("Paris", 1.0)
    assert (len(cheap.seen), len(strong.seen)) == (1, 0)


def test_the_cascade_escalates_when_the_cheap_answer_scores_below_the_threshold() -> None:
    cheap, strong = scripted("Lyon"), scripted("Paris")
    orchestrator = MultiLLMOrchestrator([("cheap", cheap), ("strong", strong)])

    result = orchestrator.cascade_execution(
        "Capital of France?", threshold=0.8, scorer=mentions_paris
    )

    assert result.accepted
    assert result.called == ("cheap", "strong")
    assert [call.score for call in result.calls] == [0.2, 1.0]
    assert result.answer is not None and result.answer.entry == "strong"
    assert (len(cheap.seen), len(strong.seen)) == (1, 1)


def test_the_cascade_follows_the_order_it_is_given_not_the_orchestrators() -> None:
    orchestrator = MultiLLMOrchestrator({"strong": scripted("Lyon"), "cheap": scripted("Lyon")})

    result = orchestrator.cascade_execution(
        "q", ["cheap", "strong"], threshold=0.8, scorer=mentions_paris
    )

    assert result.called == ("cheap", "strong")


def test_when_no_answer_is_good_enough_the_best_one_is_offered_unaccepted() -> None:
    def by_length(request: Sequence[BaseMessage], answer: AIMessage) -> float:
        return len(answer.text) / 100

    orchestrator = MultiLLMOrchestrator({"a": scripted("short"), "b": scripted("a longer one")})

    result = orchestrator.cascade_execution("q", threshold=0.9, scorer=by_length)

    assert not result.accepted
    assert result.answer is not None and result.answer.entry == "b"
    assert result.to_dict()["accepted"] is False


def test_the_default_scorer_escalates_past_failures_and_unusable_answers() -> None:
    truncated = AIMessage("The answer is", response_metadata={"stop_reason": "max_tokens"})
    refused = AIMessage("", response_metadata={"stop_reason": "refusal"})
    orchestrator = MultiLLMOrchestrator(
        [
            ("down", Failing()),
            ("empty", scripted("   ")),
            ("refuses", scripted(refused)),
            ("cut", scripted(truncated)),
            ("good", scripted("The answer is 4.")),
        ]
    )

    result = orchestrator.cascade_execution("2 + 2?")

    assert result.called == ("down", "empty", "refuses", "cut", "good")
    assert [call.score for call in result.calls] == [None, 0.0, 0.0, 0.0, 1.0]
    assert result.text == "The answer is 4."


async def test_the_async_cascade_escalates_past_a_timeout() -> None:
    strong = scripted("Paris")
    orchestrator = MultiLLMOrchestrator({"slow": Hanging(), "strong": strong})

    result = await orchestrator.acascade_execution("q", timeout_seconds=0.05)

    assert result.called == ("slow", "strong")
    assert result.calls[0].timed_out
    assert result.text == "Paris"


def test_latency_and_wall_time_come_from_the_timer() -> None:
    orchestrator = MultiLLMOrchestrator(
        {"cheap": scripted("Lyon"), "strong": scripted("Paris")}, timer=StepTimer()
    )

    result = orchestrator.cascade_execution("q", threshold=0.8, scorer=mentions_paris)

    # Reads: start 0, cheap 1..2, strong 3..4, end 5.
    assert [call.latency_seconds for call in result.calls] == [1.0, 1.0]
    assert result.wall_seconds == 5.0


def test_ranking_orders_answers_by_score_and_leaves_failures_out() -> None:
    orchestrator = MultiLLMOrchestrator(
        [("lyon", scripted("Lyon")), ("down", Failing()), ("paris", scripted("Paris"))],
        scorer=mentions_paris,
    )
    result = orchestrator.parallel_llm_call("q")

    ranked = orchestrator.rank_results(result)

    assert [(call.entry, call.score) for call in ranked] == [("paris", 1.0), ("lyon", 0.2)]


def test_ranking_breaks_equal_scores_by_cost_with_unknown_costs_last() -> None:
    from dataclasses import replace
    from decimal import Decimal

    result = MultiLLMOrchestrator(
        {"a": scripted("x"), "b": scripted("y"), "c": scripted("z")}
    ).parallel_llm_call("q")
    a, b, c = result.calls
    priced = [
        replace(a, cost=None),
        replace(b, cost=Decimal("0.02")),
        replace(c, cost=Decimal("0.01")),
    ]

    ranked = rank_results(priced, usable_answer_score)

    assert [call.entry for call in ranked] == ["c", "b", "a"]
