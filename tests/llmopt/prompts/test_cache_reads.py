"""Against the sandbox: the engineer's prompt is read from the cache on the next call;
the same content assembled naively (volatile bits first, examples shuffled) is not."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from llmopt.prompts import Example, PromptEngineer
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.wrapper import get_generator_model

MODEL = "claude-sonnet-4-6"  # caches prefixes of 1,024 tokens or more
INSTRUCTIONS = " ".join(f"rule{n % 53}" for n in range(900))
EXAMPLES = [
    Example(f"question {n} " + "detail " * 30, f"answer {n} " + "step " * 30) for n in range(6)
]
DOCUMENT = " ".join(f"fact{n % 71}" for n in range(700))


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def model(sandbox: SandboxServer) -> Any:
    return get_generator_model(
        "anthropic",
        {
            "model": MODEL,
            "apiKey": sandbox.api_key,
            "baseUrl": sandbox.base_url,
            "maxTokens": 32,
            "maxRetries": 0,
            "optimizationEnabled": True,
            "cachingEnabled": True,
        },
    )


def naive(n: int, rng: random.Random) -> list[BaseMessage]:
    examples = EXAMPLES[:]
    rng.shuffle(examples)
    shown = "\n\n".join(f"Q: {e.input}\nA: {e.output}" for e in examples)
    system = (
        f"Today is 2026-03-0{n + 1}. Request id req-{n}.\n\n{INSTRUCTIONS}\n\n{shown}\n\n{DOCUMENT}"
    )
    return [SystemMessage(system), HumanMessage(f"Question {n}: what does rule{n} say?")]


def friendly(n: int, rng: random.Random) -> list[BaseMessage]:
    examples = EXAMPLES[:]
    rng.shuffle(examples)
    prompt = PromptEngineer(instructions=INSTRUCTIONS, model=MODEL).build(
        f"Question {n}: what does rule{n} say?",
        task="chat",
        context={"date": f"2026-03-0{n + 1}", "request_id": f"req-{n}"},
        examples=examples,
        documents=[DOCUMENT],
    )
    assert prompt.prefix_cacheable
    return prompt.messages


def cache_reads(sandbox: SandboxServer, assemble: Any) -> list[int]:
    chat, rng = model(sandbox), random.Random(7)
    reads = []
    for n in range(2):
        usage = chat.invoke(assemble(n, rng)).usage_metadata
        assert usage is not None
        reads.append(usage["input_token_details"]["cache_read"])
    return reads


def test_the_engineers_prompt_is_read_from_the_cache_on_the_second_call(
    sandbox: SandboxServer,
) -> None:
    first, second = cache_reads(sandbox, friendly)
    stable = (
        PromptEngineer(instructions=INSTRUCTIONS)
        .build("q", examples=EXAMPLES, documents=[DOCUMENT])
        .stable_tokens
    )
    assert first == 0
    assert second >= stable  # the whole system prompt: instructions, examples, document
    assert sandbox.billing().total.cache_read_tokens == second


def test_the_naive_assembly_of_the_same_content_is_never_read(sandbox: SandboxServer) -> None:
    assert cache_reads(sandbox, naive) == [0, 0]
    assert sandbox.billing().total.cache_read_tokens == 0


def test_the_engineers_prompt_costs_less_over_a_few_calls(sandbox: SandboxServer) -> None:
    costs = []
    for assemble in (naive, friendly):
        sandbox.reset()
        chat, rng = model(sandbox), random.Random(7)
        for n in range(5):
            chat.invoke(assemble(n, rng))
        cost = sandbox.billing().total.cost_usd
        assert cost is not None
        costs.append(cost)
    assert costs[1] < costs[0] / 2
