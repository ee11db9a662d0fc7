"""Cascade against always-strong and always-cheap, on sandbox models of scripted skill.

    uv run python tests/benchmarks/bench_cascade.py [--questions 300] [--cheap-accuracy 0.75]

The sandbox answers quiz questions (``[quiz arithmetic answer=N]``) right as often as
each model's scripted accuracy says: the cheap model (claude-haiku-4-5) at
``--cheap-accuracy``, the strong one (claude-sonnet-4-6) at 0.97. Each question goes
through ``MultiLLMOrchestrator`` four ways: always the cheap model, always the strong
model, and the cascade (cheap first, the strong model only when the answer scores below
0.5) with two scorers:

* ``checks``: the cheap default (``usable_answer_score``: empty, refused or truncated
  answers fail). It cannot tell a wrong sum from a right one, so its cascade is the cheap
  model's accuracy at the cheap model's cost: cheap checks only catch broken answers.
* ``verifier``: a scorer that can tell (here it recomputes the sum, as a code test, a
  JSON schema or a retrieval check would for their tasks). It shows what the cascade
  buys when the quality signal is good.

Prints accuracy, the sandbox-billed cost and the share escalated for each, and the
cascade's cost as a share of always-strong, side by side in one run.
"""

from __future__ import annotations

import argparse
import random
import re
from decimal import Decimal
from typing import Any

from langchain_anthropic import ChatAnthropic
from langchain_core.messages import BaseMessage, HumanMessage

from llmopt.orchestration import MultiLLMOrchestrator, usable_answer_score
from llmopt.sandbox import running_sandbox

CHEAP, STRONG = "claude-haiku-4-5", "claude-sonnet-4-6"
_SUM = re.compile(r"What is (\d+) \+ (\d+)\?")
_ANSWER = re.compile(r"The answer is (\S+)\.")


def question(rng: random.Random) -> str:
    a, b = rng.randrange(10, 999), rng.randrange(10, 999)
    return f"What is {a} + {b}? [quiz arithmetic answer={a + b}]"


def answered_right(text: str, asked: str) -> bool:
    found, sums = _ANSWER.search(text), _SUM.search(asked)
    assert sums is not None
    return found is not None and found.group(1) == str(int(sums[1]) + int(sums[2]))


def verifier(request: list[BaseMessage], answer: Any) -> float:
    return 1.0 if answered_right(str(answer.content), str(request[-1].content)) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--cheap-accuracy", type=float, default=0.75)
    args = parser.parse_args()
    rng = random.Random(11)
    questions = [question(rng) for _ in range(args.questions)]
    print(
        f"{args.questions} arithmetic quizzes; {CHEAP} right {args.cheap_accuracy:.0%} of the "
        f"time, {STRONG} 97%"
    )
    print(f"  {'strategy':22} {'accuracy':>8} {'cost':>10} {'escalated':>9}")
    results: dict[str, Decimal] = {}
    for name in ("always cheap", "always strong", "cascade (checks)", "cascade (verifier)"):
        with running_sandbox() as sandbox:
            sandbox.set_skills({CHEAP: {"*": args.cheap_accuracy}, STRONG: {"*": 0.97}})
            models = {
                key: ChatAnthropic(  # type: ignore[call-arg]
                    model=key,
                    base_url=sandbox.base_url,
                    api_key=sandbox.api_key,
                    max_tokens=32,
                    max_retries=0,
                )
                for key in (CHEAP, STRONG)
            }
            orchestrator = MultiLLMOrchestrator(models)
            right = escalated = 0
            for asked in questions:
                request = [HumanMessage(asked)]
                if name.startswith("always"):
                    entry = CHEAP if name == "always cheap" else STRONG
                    text = str(models[entry].invoke(request).content)
                else:
                    scorer = verifier if "verifier" in name else usable_answer_score
                    run = orchestrator.cascade_execution(
                        request, [CHEAP, STRONG], threshold=0.5, scorer=scorer
                    )
                    escalated += len(run.called) > 1
                    text = run.text
                right += answered_right(text, asked)
            billed = sandbox.billing().total.cost_usd or Decimal(0)
            results[name] = billed
            print(
                f"  {name:22} {right / len(questions):8.1%} {'$' + format(billed, '.4f'):>10} "
                f"{escalated / len(questions):9.1%}"
            )
    strong = results["always strong"]
    for name in ("cascade (checks)", "cascade (verifier)"):
        print(f"  {name} costs {results[name] / strong:.1%} of always-strong")


if __name__ == "__main__":
    main()
