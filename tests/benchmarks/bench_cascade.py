"""Cascade against always-strong and always-cheap, on sandbox models of scripted skill.

    uv run python tests/benchmarks/bench_cascade.py [--questions 300] [--per-task 100]
        [--cheap-accuracy 0.75] [--threshold 0.75]

The sandbox answers quiz questions (``[quiz <task> answer=...]``, see
``llmopt.sandbox._skills``) right as often as each model's scripted accuracy says: the
cheap model (claude-haiku-4-5) at ``--cheap-accuracy``, the strong one
(claude-sonnet-4-6) at 0.97. Sandbox-billed cost, the share escalated, and accuracy as an
independent verifier in this script judges it (never the scorer under test).

**Arithmetic** (``--questions``): each question goes through ``MultiLLMOrchestrator``
four ways: always the cheap model, always the strong model, and the cascade (cheap
first, the strong model only when the answer scores below 0.5) with two scorers:

* ``checks``: the cheap default (``usable_answer_score``: empty, refused or truncated
  answers fail). It cannot tell a wrong sum from a right one, so its cascade is the cheap
  model's accuracy at the cheap model's cost: cheap checks only catch broken answers.
* ``verifier``: a scorer that can tell (here it recomputes the sum, as a code test, a
  JSON schema or a retrieval check would for their tasks). It shows what the cascade
  buys when the quality signal is good.

**Tasks the quality monitor can check** (``--per-task`` each): the scorer is
``LLMQualityMonitor(embeddings="lexical")``'s combined score, configured per task, and
the cascade escalates below ``--threshold``:

=======  ============================================  ====================================
task     monitor configured with                       accuracy (the verifier)
=======  ============================================  ====================================
python   ``language="python"``                         the block compiles and ``solve()``
                                                       returns the product when exec'd
json     ``schema=`` the record's JSON Schema          the JSON parses and equals the record
rag      ``context=`` the question's context           the asked fact is in the answer
=======  ============================================  ====================================

The threshold sits between the two score bands: a wrong answer fails its task's check
(code 0 or support 0) and scores at most about 0.67, a right one at least about 0.83.
The sandbox's wrong answers on these tasks are detectable by construction (syntax
errors, schema violations, claims absent from the context); a real model's
wrong-but-well-formed answers are not, so these figures are what the monitor buys on
the failures it can see.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from langchain_anthropic import ChatAnthropic
from langchain_core.messages import BaseMessage, HumanMessage

from llmopt.orchestration import MultiLLMOrchestrator, usable_answer_score
from llmopt.quality import LLMQualityMonitor
from llmopt.sandbox import running_sandbox

CHEAP, STRONG = "claude-haiku-4-5", "claude-sonnet-4-6"
_SUM = re.compile(r"What is (\d+) \+ (\d+)\?")
_ANSWER = re.compile(r"The answer is (\S+)\.")
Scorer = Callable[[Sequence[BaseMessage], Any], float]


def question(rng: random.Random) -> str:
    a, b = rng.randrange(10, 999), rng.randrange(10, 999)
    return f"What is {a} + {b}? [quiz arithmetic answer={a + b}]"


def answered_right(text: str, asked: str) -> bool:
    found, sums = _ANSWER.search(text), _SUM.search(asked)
    assert sums is not None
    return found is not None and found.group(1) == str(int(sums[1]) + int(sums[2]))


def verifier(request: list[BaseMessage], answer: Any) -> float:
    return 1.0 if answered_right(str(answer.content), str(request[-1].content)) else 0.0


@dataclass(frozen=True)
class Quiz:
    """One question and the independent check of an answer to it."""

    asked: str
    right: Callable[[str], bool]


@dataclass(frozen=True)
class TaskSet:
    name: str
    monitor_options: str  # how the monitor is configured, for the printout
    quizzes: list[Quiz]
    scorer: Scorer


MONITOR = LLMQualityMonitor(embeddings="lexical")


def monitor_scorer(
    per_request: Callable[[Sequence[BaseMessage]], dict[str, Any]] | None = None,
    **options: Any,
) -> Scorer:
    """The monitor's combined score as a cascade scorer: ``options`` for every call, and
    those ``per_request`` reads from the request (a RAG question's context)."""

    def score(request: Sequence[BaseMessage], answer: Any) -> float:
        extra = per_request(request) if per_request is not None else {}
        return MONITOR.evaluate_response(request, answer, **options, **extra).combined

    return score


# --- python: a function returning a product ---------------------------------------------

_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_quiz(rng: random.Random) -> Quiz:
    a, b = rng.randrange(2, 99), rng.randrange(2, 99)

    def right(text: str) -> bool:
        found = _PYTHON_BLOCK.search(text)
        if found is None:
            return False
        try:
            code = compile(found.group(1), "<answer>", "exec")
        except SyntaxError:
            return False
        scope: dict[str, Any] = {}
        exec(code, scope)  # the sandbox's own reply, in a benchmark
        solve = scope.get("solve")
        return callable(solve) and solve() == a * b

    asked = f"Write a Python function solve() that returns {a} * {b}. [quiz python answer={a * b}]"
    return Quiz(asked, right)


def python_tasks(rng: random.Random, count: int) -> TaskSet:
    return TaskSet(
        "python",
        'language="python"',
        [python_quiz(rng) for _ in range(count)],
        monitor_scorer(language="python"),
    )


# --- json: extract a record against a schema --------------------------------------------

_FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia")
_LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus")
_CITY = ("London", "Arlington", "New York", "Rotterdam", "Los Angeles", "Milwaukee", "Utica")
RECORD_SCHEMA = {
    "type": "object",
    "required": ["name", "year", "city", "languages"],
    "properties": {
        "name": {"type": "string"},
        "year": {"type": "integer"},
        "city": {"type": "string"},
        "languages": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def json_quiz(rng: random.Random) -> Quiz:
    record = {
        "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        "year": rng.randrange(1800, 2000),
        "city": rng.choice(_CITY),
        "languages": rng.sample(["Python", "Lisp", "COBOL", "Pascal", "ML", "C"], 2),
    }

    def right(text: str) -> bool:
        found = _JSON_BLOCK.search(text)
        try:
            return bool(json.loads(found.group(1) if found else text) == record)
        except json.JSONDecodeError:
            return False

    asked = (
        f"Extract name, year, city and languages as JSON: {record['name']} was born in "
        f"{record['city']} in {record['year']} and wrote {' and '.join(record['languages'])}. "
        f"[quiz json answer={json.dumps(record)}]"
    )
    return Quiz(asked, right)


def json_tasks(rng: random.Random, count: int) -> TaskSet:
    return TaskSet(
        "json",
        "schema=RECORD_SCHEMA (4 required, typed fields)",
        [json_quiz(rng) for _ in range(count)],
        monitor_scorer(schema=RECORD_SCHEMA),
    )


# --- rag: answer from the given context -------------------------------------------------

_BRIDGE = ("Alder", "Brook", "Corran", "Dunmore", "Elsing", "Fenwick", "Garrow", "Hollin")
_ENGINEER = ("Mirela Stanescu", "Owen Pritchard", "Katrin Vogel", "Daniel Achebe", "Lucia Ferri")
_CONTEXT = re.compile(r"Context: (.*?)\nQuestion:", re.DOTALL)


def rag_quiz(rng: random.Random) -> Quiz:
    bridge, city = rng.choice(_BRIDGE), rng.choice(_CITY)
    year, length = rng.randrange(1850, 2020), rng.randrange(120, 2400)
    engineer = rng.choice(_ENGINEER)
    context = (
        f"The {bridge} Bridge in {city} opened in {year}. It spans {length} metres over the "
        f"river. The chief engineer was {engineer}, who also planned the approach roads."
    )
    asked_for, fact = rng.choice(
        [
            (f"When did the {bridge} Bridge open?", str(year)),
            (f"How long is the {bridge} Bridge?", str(length)),
            (f"Who was the chief engineer of the {bridge} Bridge?", engineer),
        ]
    )

    def right(text: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(fact)}(?!\w)", text) is not None

    return Quiz(f"Context: {context}\nQuestion: {asked_for} [quiz rag answer={fact}]", right)


def context_of(request: Sequence[BaseMessage]) -> dict[str, Any]:
    found = _CONTEXT.search(str(request[-1].content))
    return {"context": [found.group(1)] if found else []}


def rag_tasks(rng: random.Random, count: int) -> TaskSet:
    return TaskSet(
        "rag",
        "context=[the question's context]",
        [rag_quiz(rng) for _ in range(count)],
        monitor_scorer(per_request=context_of),
    )


# --- running ----------------------------------------------------------------------------


def run(
    name: str,
    quizzes: list[Quiz],
    scorer: Scorer | None,
    *,
    cheap_accuracy: float,
    threshold: float,
    max_tokens: int,
    first_scores: dict[bool, list[float]] | None = None,
) -> tuple[float, Decimal, float]:
    """Accuracy, billed cost and share escalated of one strategy over ``quizzes``.

    For a cascade, ``first_scores`` collects the cheap answers' scores by whether the
    verifier finds them right.
    """
    with running_sandbox() as sandbox:
        sandbox.set_skills({CHEAP: {"*": cheap_accuracy}, STRONG: {"*": 0.97}})
        models = {
            key: ChatAnthropic(  # type: ignore[call-arg]
                model=key,
                base_url=sandbox.base_url,
                api_key=sandbox.api_key,
                max_tokens=max_tokens,
                max_retries=0,
            )
            for key in (CHEAP, STRONG)
        }
        orchestrator = MultiLLMOrchestrator(models)
        right = escalated = 0
        for quiz in quizzes:
            request = [HumanMessage(quiz.asked)]
            if scorer is None:
                entry = CHEAP if name == "always cheap" else STRONG
                text = str(models[entry].invoke(request).content)
            else:
                result = orchestrator.cascade_execution(
                    request, [CHEAP, STRONG], threshold=threshold, scorer=scorer
                )
                escalated += len(result.called) > 1
                text = result.text
                first = result.calls[0]
                if first_scores is not None and first.answer is not None:
                    cheap_right = quiz.right(str(first.answer.content))
                    first_scores.setdefault(cheap_right, []).append(first.score or 0.0)
            right += quiz.right(text)
        billed = sandbox.billing().total.cost_usd or Decimal(0)
    return right / len(quizzes), billed, escalated / len(quizzes)


def print_row(name: str, accuracy: float, cost: Decimal, escalated: float) -> None:
    print(f"  {name:22} {accuracy:8.1%} {'$' + format(cost, '.4f'):>10} {escalated:9.1%}")


def arithmetic(count: int, cheap_accuracy: float) -> None:
    rng = random.Random(11)
    questions = [question(rng) for _ in range(count)]
    quizzes = [
        Quiz(asked, lambda text, asked=asked: answered_right(text, asked)) for asked in questions
    ]
    print(
        f"{count} arithmetic quizzes; {CHEAP} right {cheap_accuracy:.0%} of the time, {STRONG} 97%"
    )
    print(f"  {'strategy':22} {'accuracy':>8} {'cost':>10} {'escalated':>9}")
    scorers: dict[str, Scorer | None] = {
        "always cheap": None,
        "always strong": None,
        "cascade (checks)": usable_answer_score,
        "cascade (verifier)": verifier,
    }
    results: dict[str, Decimal] = {}
    for name, scorer in scorers.items():
        accuracy, billed, escalated = run(
            name, quizzes, scorer, cheap_accuracy=cheap_accuracy, threshold=0.5, max_tokens=32
        )
        results[name] = billed
        print_row(name, accuracy, billed, escalated)
    strong = results["always strong"]
    for name in ("cascade (checks)", "cascade (verifier)"):
        print(f"  {name} costs {results[name] / strong:.1%} of always-strong")


def checked_task(tasks: TaskSet, cheap_accuracy: float, threshold: float) -> None:
    print(
        f"\n{len(tasks.quizzes)} {tasks.name} quizzes; cascade scorer "
        f'LLMQualityMonitor(embeddings="lexical"), {tasks.monitor_options}; '
        f"threshold {threshold}"
    )
    print(f"  {'strategy':22} {'accuracy':>8} {'cost':>10} {'escalated':>9}")
    results: dict[str, Decimal] = {}
    strategies: dict[str, Scorer | None] = {
        "always cheap": None,
        "always strong": None,
        "cascade (monitor)": tasks.scorer,
    }
    scores: dict[bool, list[float]] = {}
    for name, scorer in strategies.items():
        accuracy, billed, escalated = run(
            name,
            tasks.quizzes,
            scorer,
            cheap_accuracy=cheap_accuracy,
            threshold=threshold,
            max_tokens=256,
            first_scores=scores,
        )
        results[name] = billed
        print_row(name, accuracy, billed, escalated)
    share = results["cascade (monitor)"] / results["always strong"]
    print(f"  cascade (monitor) costs {share:.1%} of always-strong")
    for verdict, label in ((False, "wrong"), (True, "right")):
        found = scores.get(verdict, [])
        if found:
            below = sum(s < threshold for s in found)
            print(
                f"  monitor on the cheap model's {label} answers: scores "
                f"{min(found):.2f}-{max(found):.2f}, {below} of {len(found)} escalated"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--per-task", type=int, default=100)
    parser.add_argument("--cheap-accuracy", type=float, default=0.75)
    parser.add_argument("--threshold", type=float, default=0.75)
    args = parser.parse_args()
    arithmetic(args.questions, args.cheap_accuracy)
    rng = random.Random(12)
    for tasks in (
        python_tasks(rng, args.per_task),
        json_tasks(rng, args.per_task),
        rag_tasks(rng, args.per_task),
    ):
        checked_task(tasks, args.cheap_accuracy, args.threshold)


if __name__ == "__main__":
    main()
