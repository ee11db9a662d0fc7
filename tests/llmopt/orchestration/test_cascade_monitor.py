"""The quality monitor as the cascade's scorer, on sandbox tasks it can check."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from llmopt.orchestration import MultiLLMOrchestrator
from llmopt.quality import LLMQualityMonitor
from llmopt.sandbox import SandboxServer, running_sandbox

CHEAP, STRONG = "claude-haiku-4-5", "claude-sonnet-4-6"
THRESHOLD = 0.5  # a failed code check caps the score at 0; right answers score 1.0
RECORD_SCHEMA = {
    "type": "object",
    "required": ["name", "year"],
    "properties": {"name": {"type": "string"}, "year": {"type": "integer"}},
}
Verifier = Callable[[str], bool]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def python_quiz(n: int) -> tuple[str, Verifier]:
    def right(text: str) -> bool:
        found = re.search(r"```python\n(.*?)```", text, re.DOTALL)
        try:
            code = compile(found.group(1) if found else text, "<answer>", "exec")
        except SyntaxError:
            return False
        scope: dict[str, Any] = {}
        exec(code, scope)
        return bool(scope["solve"]() == n * 7)

    return f"Write a Python function solve() returning {n} * 7. [quiz python answer={n * 7}]", right


def json_quiz(n: int) -> tuple[str, Verifier]:
    record = {"name": f"Person {n}", "year": 1900 + n}

    def right(text: str) -> bool:
        found = re.search(r"```json\n(.*?)```", text, re.DOTALL)
        try:
            return bool(json.loads(found.group(1) if found else text) == record)
        except json.JSONDecodeError:
            return False

    asked = f"Extract name and year as JSON: {record['name']}, born {record['year']}."
    return f"{asked} [quiz json answer={json.dumps(record)}]", right


def run(
    sandbox: SandboxServer,
    quizzes: list[tuple[str, Verifier]],
    strategy: str,
    scorer: Callable[[Sequence[BaseMessage], AIMessage], float],
) -> tuple[float, Decimal]:
    """Accuracy (by the verifier) and the sandbox-billed cost of one strategy: always
    one model, or the cascade from the cheap one to the strong one."""
    sandbox.reset()
    sandbox.set_skills({CHEAP: {"*": 0.6}, STRONG: {"*": 0.97}})
    models = {
        key: ChatAnthropic(  # type: ignore[call-arg]
            model=key,
            base_url=sandbox.base_url,
            api_key=sandbox.api_key,
            max_tokens=256,
            max_retries=0,
        )
        for key in (CHEAP, STRONG)
    }
    orchestrator = MultiLLMOrchestrator(models)
    right = 0
    for asked, verify in quizzes:
        request = [HumanMessage(asked)]
        if strategy == "cascade":
            text = orchestrator.cascade_execution(
                request, [CHEAP, STRONG], threshold=THRESHOLD, scorer=scorer
            ).text
        else:
            text = str(models[strategy].invoke(request).content)
        right += verify(text)
    return right / len(quizzes), sandbox.billing().total.cost_usd or Decimal(0)


@pytest.mark.parametrize(
    ("make_quiz", "options"),
    [(python_quiz, {"language": "python"}), (json_quiz, {"schema": RECORD_SCHEMA})],
    ids=["python", "json"],
)
def test_a_cascade_scored_by_the_monitor_beats_the_cheap_model_for_less_than_the_strong_one(
    sandbox: SandboxServer,
    make_quiz: Callable[[int], tuple[str, Verifier]],
    options: dict[str, Any],
) -> None:
    monitor = LLMQualityMonitor(embeddings="lexical")

    def scorer(request: Sequence[BaseMessage], answer: AIMessage) -> float:
        return monitor.evaluate_response(request, answer, **options).combined

    quizzes = [make_quiz(n) for n in range(30)]

    cheap_accuracy, _ = run(sandbox, quizzes, CHEAP, scorer)
    _, strong_cost = run(sandbox, quizzes, STRONG, scorer)
    cascade_accuracy, cascade_cost = run(sandbox, quizzes, "cascade", scorer)

    assert cascade_accuracy > cheap_accuracy
    assert cascade_accuracy >= 0.9
    assert cascade_cost < strong_cost
