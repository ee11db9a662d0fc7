"""Templates, chain of thought, structured output, examples, and the design names."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel

from llmopt.errors import ConfigError, LLMOptError
from llmopt.prompts import (
    TEMPLATES,
    EmbeddingSimilarity,
    Example,
    LexicalSimilarity,
    PromptEngineer,
    TaskTemplate,
)
from llmopt.routing import TaskKind


class Invoice(BaseModel):
    number: str
    total: float


@pytest.mark.parametrize(
    ("question", "task"),
    [
        ("Fix this function: def add(a, b): return a - b", "code"),
        ("Extract every date from this letter.", "extraction"),
        ("Why does ice float on water?", "reasoning"),
        ("Summarize the meeting notes below.", "summarization"),
        ("Hello, how are you today?", "chat"),
    ],
)
def test_the_task_is_inferred_from_the_question_with_the_routers_rules(
    question: str, task: str
) -> None:
    prompt = PromptEngineer().build(question)
    assert prompt.task == task
    assert prompt.system_text.startswith(TEMPLATES[task].role)


@pytest.mark.parametrize("task", ["code", TaskKind.EXTRACTION, "Summarisation", "summary"])
def test_a_task_can_be_named_by_name_kind_or_alias(task: Any) -> None:
    prompt = PromptEngineer().build("some text", task=task)
    assert prompt.task in TEMPLATES


def test_a_template_of_ones_own_frames_the_prompt() -> None:
    legal = TaskTemplate("legal", role="You are a contracts lawyer.", instructions="Cite clauses.")
    engineer = PromptEngineer(templates={"legal": legal})
    assert engineer.build("Is this clause valid?", task="legal").system_text.startswith(
        "You are a contracts lawyer.\n\nCite clauses."
    )
    assert engineer.build("x", task=legal, role="You are a judge.").system_text.startswith(
        "You are a judge."
    )


def test_chain_of_thought_follows_the_template_unless_the_call_says() -> None:
    engineer = PromptEngineer()
    assert "step by step" in engineer.build("q", task="reasoning").system_text
    assert "step by step" not in engineer.build("q", task="chat").system_text
    assert "step by step" in engineer.build("q", task="chat", chain_of_thought=True).system_text
    assert (
        "step by step"
        not in engineer.build("q", task="reasoning", chain_of_thought=False).system_text
    )


def test_a_pydantic_model_becomes_an_instruction_with_its_json_schema() -> None:
    prompt = PromptEngineer().build("Read this invoice.", output_schema=Invoice)
    text = prompt.system_text
    assert "Reply with one JSON object that validates against this JSON Schema" in text
    assert '"number": {' in text and '"required": [' in text


def test_a_schema_built_in_another_key_order_gives_the_same_prompt() -> None:
    one = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}}
    two = {"properties": {"b": {"type": "number"}, "a": {"type": "string"}}, "type": "object"}
    engineer = PromptEngineer()
    assert (
        engineer.build("q", output_schema=one).system_text
        == engineer.build("q", output_schema=two).system_text
    )


def test_reasoning_before_json_is_kept_out_of_the_json() -> None:
    text = PromptEngineer().build("q", task="reasoning", output_schema=Invoice).system_text
    assert "<thinking></thinking>" in text and "give only the JSON object" in text


def test_lexical_similarity_ranks_the_nearest_example_first() -> None:
    scores = LexicalSimilarity().scores(
        "How do I join two tables in SQL?",
        ["Write a SQL query joining the orders table", "What is the capital of France?"],
    )
    assert scores[0] > scores[1] == 0.0


class KeywordEmbeddings(Embeddings):
    """Vectors of keyword presence, counting the texts it embeds."""

    KEYWORDS = ("money", "travel", "food")
    SYNONYMS = {"cash": "money", "price": "money", "flight": "travel", "lunch": "food"}

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vector(self, text: str) -> list[float]:
        words = [self.SYNONYMS.get(w, w) for w in text.lower().replace("?", "").split()]
        return [float(k in words) + 0.01 for k in self.KEYWORDS]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def test_any_langchain_embeddings_can_choose_the_examples_each_embedded_once() -> None:
    embeddings = KeywordEmbeddings()
    pool = [
        Example("Where can I eat lunch?", "The canteen."),
        Example("How much cash may I claim?", "Up to 50."),
        Example("Which flight should I take?", "The earliest."),
    ]
    engineer = PromptEngineer(examples=pool, max_examples=1, embeddings=embeddings)
    assert isinstance(engineer.scorer, EmbeddingSimilarity)
    assert engineer.select_examples("What is the price?") == [pool[1]]
    assert engineer.select_examples("A travel question") == [pool[2]]
    assert sorted(embeddings.embedded) == sorted(e.input for e in pool)


def test_a_library_keyed_by_task_serves_each_task_its_own_examples() -> None:
    engineer = PromptEngineer(
        examples={
            "code": [("Reverse a list in Python", "xs[::-1]")],
            "summarisation": [("Summarise: a long text", "A text.")],
        }
    )
    code = engineer.build("Write a function to reverse a string", task="code")
    assert "xs[::-1]" in code.system_text and "A text." not in code.system_text
    assert engineer.select_examples("q", task="summarization")[0].output == "A text."


def test_optimize_prompt_builds_a_whole_prompt_from_raw_text() -> None:
    prompt = PromptEngineer(instructions="House rules.").optimize_prompt("Why is the sky blue?")
    assert prompt.task == "reasoning"
    assert "House rules." in prompt.system_text
    assert prompt.user_text == "Why is the sky blue?"


def test_add_context_adds_to_the_volatile_part_only() -> None:
    engineer = PromptEngineer(instructions="House rules.")
    prompt = engineer.build("What changed?", context={"date": "2026-01-01", "user": "ana"})
    enriched = engineer.add_context(prompt, {"date": "2026-01-02", "request_id": "r9"})
    assert enriched.stable_fingerprint == prompt.stable_fingerprint
    assert "date: 2026-01-02\nuser: ana\nrequest_id: r9" in enriched.user_text
    assert engineer.add_context("Plain question", "Some context").user_text.startswith(
        "<context>\nSome context\n</context>"
    )


def test_add_examples_takes_the_librarys_examples_for_a_task() -> None:
    engineer = PromptEngineer(examples={"code": [("Sort a list", "sorted(xs)")]})
    prompt = engineer.add_examples("How do I sort a list?", "code")
    assert "sorted(xs)" in prompt.system_text
    with pytest.raises(ConfigError, match="no examples for task 'extraction'"):
        engineer.add_examples(prompt, "extraction")


def test_estimate_tokens_counts_strings_messages_and_prompts() -> None:
    engineer = PromptEngineer()
    prompt = engineer.build("How many tokens is this?")
    assert engineer.estimate_tokens("one two three.") == 4
    assert engineer.estimate_tokens(prompt) == prompt.total_tokens
    assert engineer.estimate_tokens(prompt.messages) == prompt.total_tokens


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.build(""), "question is empty"),
        (lambda e: e.build(42), "question must be a string, not int"),
        (lambda e: e.build("q", task="poetry"), "task 'poetry' has no template; known tasks"),
        (lambda e: e.build("q", task=3), "task must be a task name or a TaskTemplate"),
        (lambda e: e.build("q", context=["a"]), "context must be a mapping or a string"),
        (lambda e: e.build("q", context={1: "a"}), "context keys must be non-empty strings"),
        (lambda e: e.build("q", examples=[("only input",)]), r"examples\[0\] must be an Example"),
        (lambda e: e.build("q", examples=[("in", "")]), r"examples\[0\] has an empty input"),
        (lambda e: e.build("q", examples="text"), "must be a list of examples"),
        (lambda e: e.build("q", documents=[3]), r"documents\[0\] must be a string"),
        (lambda e: e.build("q", documents=["  "]), r"documents\[0\] has no text"),
        (lambda e: e.build("q", output_schema={}), "output_schema is empty"),
        (lambda e: e.build("q", output_schema=[1]), "output_schema must be a JSON schema"),
        (
            lambda e: e.build("q", output_schema=Invoice(number="1", total=2)),
            "not an instance: pass Invoice itself",
        ),
        (lambda e: e.build("q", max_examples=-1), "max_examples must be a whole number"),
        (lambda e: e.build("q", chain_of_thought="yes"), "chain_of_thought must be True"),
        (lambda e: e.format_for_model("q", "palm"), "no prompt format for 'palm'"),
        (lambda e: e.format_for_model("q", "llama-2-7b-chat"), "is a Llama 2 model"),
        (lambda e: e.add_context(3, {}), "prompt must be an AssembledPrompt or a string"),
    ],
)
def test_bad_input_is_a_config_error_that_names_the_argument(call: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        call(PromptEngineer())
    assert isinstance(caught.value, LLMOptError) and isinstance(caught.value, ValueError)
    assert caught.value.problems[0].field


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scorer": object()}, "scorer must have a scores"),
        ({"embeddings": object()}, "embeddings must be a LangChain Embeddings"),
        ({"scorer": LexicalSimilarity(), "embeddings": KeywordEmbeddings()}, "not both"),
        ({"templates": {"x": "not a template"}}, r"templates\['x'\] must be a TaskTemplate"),
        ({"examples": {"code": [("a", "b", "c")]}}, r"examples\['code'\]\[0\]"),
        ({"role": ""}, "role is empty"),
    ],
)
def test_a_bad_engineer_setting_is_a_config_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PromptEngineer(**options)
