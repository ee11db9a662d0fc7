"""Cache-friendly assembly: stable parts first, byte-identical; volatile parts last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.prompts import AssembledPrompt, Example, PromptEngineer

POLICY = "Answer questions about the travel policy. " * 40
EXAMPLES = [
    Example("Can I fly business class to Tokyo?", "Only on flights over 8 hours."),
    Example("How do I book a hotel in Paris?", "Through the travel portal, at most 180 EUR."),
    Example("Who approves a trip abroad?", "Your manager, then the travel desk."),
]
DOCUMENTS = [
    ("Travel policy", "Flights over 8 hours may be business class."),
    "Meals: 60 EUR a day.",
]


def engineer(**options: object) -> PromptEngineer:
    return PromptEngineer(instructions=POLICY, model="claude-sonnet-4-6", **options)  # type: ignore[arg-type]


def system_bytes(prompt: AssembledPrompt) -> bytes:
    return json.dumps(prompt.to_anthropic()["system"]).encode()


def test_the_stable_prefix_is_byte_identical_whatever_the_question_context_and_input_order() -> (
    None
):
    first = engineer().build(
        "Can I take a taxi to the airport?",
        context={"date": "2026-03-01", "request_id": "r-1"},
        examples=EXAMPLES,
        documents=DOCUMENTS,
    )
    second = engineer().build(
        "What is the hotel limit in Berlin?",
        context={"request_id": "r-2", "date": "2026-03-02"},
        examples=list(reversed(EXAMPLES)),
        documents=list(reversed(DOCUMENTS)),
    )
    assert system_bytes(first) == system_bytes(second)
    assert first.stable_fingerprint == second.stable_fingerprint
    assert first.stable_tokens == second.stable_tokens
    assert first.user_text != second.user_text


def test_the_stable_prefix_is_the_same_in_processes_with_other_hash_seeds(tmp_path: Path) -> None:
    # Sets and dicts iterate in an order that depends on the hash seed; the prefix must not.
    script = tmp_path / "fingerprint.py"
    script.write_text(
        textwrap.dedent(
            """
            from llmopt.prompts import Example, PromptEngineer
            examples = {Example(f"question {n} about {w}", f"answer {n}") for n, w in
                        enumerate(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])}
            documents = {f"document {w}" for w in ["one", "two", "three", "four"]}
            schema = {"type": "object", "properties": {w: {"type": "string"} for w in
                      {"name", "city", "country", "street"}}}
            prompt = PromptEngineer(instructions="Rules.").build(
                "a question", examples=examples, documents=documents, output_schema=schema
            )
            print(prompt.stable_fingerprint)
            """
        )
    )
    fingerprints = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, str(script)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        fingerprints.add(done.stdout.strip())
    assert len(fingerprints) == 1


def test_the_question_and_the_request_context_come_after_every_stable_part() -> None:
    prompt = engineer().build(
        "Can I take a taxi?",
        context={"date": "2026-03-01", "request_id": "r-77"},
        examples=EXAMPLES,
        documents=DOCUMENTS,
    )
    system, user = prompt.messages
    assert isinstance(system, SystemMessage) and isinstance(user, HumanMessage)
    assert "r-77" not in prompt.system_text and "2026-03-01" not in prompt.system_text
    assert "Can I take a taxi?" not in prompt.system_text
    assert [block.kind for block in prompt.stable] == ["instructions", "examples", "documents"]
    assert [block.kind for block in prompt.volatile] == ["request"]
    assert prompt.user_text.endswith("Can I take a taxi?")
    assert "request_id: r-77" in prompt.user_text


def test_a_system_prompt_over_the_models_minimum_says_it_can_be_cached() -> None:
    long = engineer().build("q", documents=["policy " * 1_200])
    short = PromptEngineer(model="claude-sonnet-4-6").build("q")
    assert long.cache_minimum == 1_024 and long.prefix_cacheable is True
    assert short.prefix_cacheable is False
    assert PromptEngineer().build("q").prefix_cacheable is None  # no model named


def test_examples_chosen_per_question_go_in_the_user_turn_in_the_pools_order() -> None:
    chooser = engineer(examples=EXAMPLES, max_examples=2)
    prompt = chooser.build("Which hotel may I book in Paris, and who approves it?")
    assert [block.kind for block in prompt.volatile] == ["selected_examples", "request"]
    assert [e.input for e in prompt.request.examples] == [
        "How do I book a hotel in Paris?",
        "Who approves a trip abroad?",
    ]
    # Another question choosing other examples leaves the system prompt as it was.
    other = chooser.build("Business class to Tokyo?")
    assert other.stable_fingerprint == prompt.stable_fingerprint
    assert "Tokyo" in other.volatile[0].text


def test_all_examples_go_in_the_system_prompt_when_none_are_left_out() -> None:
    prompt = engineer(examples=EXAMPLES).build("Anything")
    assert [block.kind for block in prompt.stable] == ["instructions", "examples"]
    assert all(e.input in prompt.system_text for e in EXAMPLES)


def test_the_same_set_of_documents_in_another_order_keeps_its_order_when_asked() -> None:
    kept = engineer(canonical_order=False)
    first = kept.build("q", documents=DOCUMENTS)
    second = kept.build("q", documents=list(reversed(DOCUMENTS)))
    assert first.stable_fingerprint != second.stable_fingerprint
    assert first.system_text.index("Flights over") < first.system_text.index("Meals")


def test_token_estimates_are_the_token_counters() -> None:
    from llmopt.tokens import TokenCounter

    counter = TokenCounter()
    prompt = engineer().build("How long may a trip be?", context={"date": "2026-03-01"})
    model = "claude-sonnet-4-6"
    assert prompt.stable_tokens == counter.count_tokens(prompt.system_text, model)
    assert prompt.volatile_tokens == counter.count_tokens(prompt.user_text, model)
    assert prompt.total_tokens == counter.count_messages(prompt.messages, model)
    assert prompt.total_tokens > prompt.stable_tokens + prompt.volatile_tokens  # overheads
