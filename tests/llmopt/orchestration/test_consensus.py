from __future__ import annotations

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from llmopt.orchestration import (
    MultiLLMOrchestrator,
    ParallelResult,
    jaccard_similarity,
    normalise_answer,
)

from .conftest import Failing, scripted


def ask(*answers: str) -> tuple[MultiLLMOrchestrator, ParallelResult]:
    orchestrator = MultiLLMOrchestrator(
        [(f"m{i}", scripted(answer)) for i, answer in enumerate(answers)]
    )
    return orchestrator, orchestrator.parallel_llm_call("q")


def test_the_majority_label_wins_whatever_its_case_and_spacing() -> None:
    orchestrator, result = ask("Positive", "negative", " positive. ")

    consensus = orchestrator.consensus_resolution(result, "majority")

    assert consensus.text == "Positive"
    assert (consensus.support, consensus.answered) == (2, 3)
    assert consensus.agreeing == ("m0", "m2")
    assert consensus.reason == "2 of 3 answers agree"


def test_json_answers_agree_whatever_their_key_order() -> None:
    orchestrator, result = ask('{"a": 1, "b": [2]}', '{"b":[2],"a":1}', '{"a": 2}')

    consensus = orchestrator.consensus_resolution(result)

    assert consensus.support == 2
    assert consensus.answer is not None and consensus.answer.entry == "m0"


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("  Yes.  ", "yes"),
        ("NO  way", "no way"),
        ('{"b": 1, "a": "X"}', '{"a":"X","b":1}'),
        ("[1, 2]", "[1,2]"),
        ("{not json", "{not json"),
    ],
)
def test_answers_are_normalised_for_voting(text: str, normal: str) -> None:
    assert normalise_answer(text) == normal


def test_a_tie_goes_to_the_entry_asked_first() -> None:
    orchestrator, result = ask("cat", "dog")

    consensus = orchestrator.consensus_resolution(result)

    assert consensus.text == "cat"
    assert "tied" in consensus.reason


def test_free_text_answers_cluster_by_similarity() -> None:
    orchestrator, result = ask(
        "Paris is the capital of France",
        "The capital of France is Paris",
        "I think it is Lyon, a large city",
    )

    consensus = orchestrator.consensus_resolution(result, "similarity")

    assert consensus.answer is not None and consensus.answer.entry in {"m0", "m1"}
    assert consensus.support == 2
    assert set(consensus.agreeing) == {"m0", "m1"}


def test_similarity_may_be_any_function_or_embeddings() -> None:
    orchestrator, result = ask("alpha", "beta", "beta")
    always_alike = orchestrator.consensus_resolution(
        result,
        "similarity",
        similarity=lambda a, b: 1.0,
    )
    embedded = orchestrator.consensus_resolution(
        result,
        "similarity",
        similarity=DeterministicFakeEmbedding(size=16),
        threshold=0.99,
    )

    assert always_alike.support == 3
    assert isinstance(DeterministicFakeEmbedding(size=2), Embeddings)
    assert (embedded.text, embedded.support) == ("beta", 2)


def test_jaccard_compares_word_sets() -> None:
    assert jaccard_similarity("a b c", "C B A") == 1.0
    assert jaccard_similarity("a b", "b c") == pytest.approx(1 / 3)


def test_a_judge_picks_an_answer_by_number_and_its_call_is_recorded() -> None:
    judge = scripted("Answer 2 is the best.")
    orchestrator = MultiLLMOrchestrator(
        {"cheap": scripted("4"), "strong": scripted("2 + 2 = 4"), "judge": judge}
    )
    result = orchestrator.parallel_llm_call("What is 2 + 2?", ["cheap", "strong"])

    consensus = orchestrator.consensus_resolution(
        result, "judge", judge="judge", request="What is 2 + 2?"
    )

    assert consensus.answer is not None and consensus.answer.entry == "strong"
    assert consensus.support == 1
    assert [(c.entry, c.role) for c in consensus.calls][-1] == ("judge", "judge")
    assert "What is 2 + 2?" in judge.seen[0][-1].text
    assert "Answer 2:\n2 + 2 = 4" in judge.seen[0][-1].text


async def test_a_judge_that_names_no_answer_leaves_no_winner() -> None:
    orchestrator = MultiLLMOrchestrator({"a": scripted("x"), "b": scripted("y")})
    result = await orchestrator.aparallel_llm_call("q")

    consensus = await orchestrator.aconsensus_resolution(
        result, "judge", judge=scripted("Answer 7")
    )

    assert consensus.answer is None
    assert "names no answer" in consensus.reason


def test_no_answer_means_no_winner() -> None:
    orchestrator = MultiLLMOrchestrator({"down": Failing()})

    consensus = orchestrator.consensus_resolution(orchestrator.parallel_llm_call("q"))

    assert (consensus.answer, consensus.support, consensus.reason) == (
        None,
        0,
        "no entry answered",
    )


def test_an_unknown_method_or_a_judge_method_without_a_judge_is_refused() -> None:
    orchestrator, result = ask("x")
    with pytest.raises(ValueError, match="unknown consensus method"):
        orchestrator.consensus_resolution(result, "vote")
    with pytest.raises(ValueError, match="needs a judge"):
        orchestrator.consensus_resolution(result, "judge")
