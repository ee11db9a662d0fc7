"""How long plan_breakpoints takes per call: median and p95 in microseconds.

Run: ``uv run python tests/benchmarks/bench_planner.py [--calls N] [--repeat R] [--planner-only]``

To compare with an older checkout side by side, run this script against it too:
``PYTHONPATH=/tmp/before .venv/bin/python tests/benchmarks/bench_planner.py --planner-only``

Each timed call plans the next turn of a chat of 20 or 1,000 messages (its previous
turn planned just before, so the :class:`PrefixMemory` is warm) with a ~3k-token
system prompt and eight tools, in ``auto`` mode: the work the wrapper adds per call.
The "fresh strings" rows rebuild every payload through JSON first, so no text's hash
is cached from an earlier call (the worst case: LangChain normally hands the same
message strings over again). The "shared memory" rows plan with a memory shared between
processes (``PrefixMemory(shared=True)``, what a wrapper with a store uses), whose
fingerprints are digests, the same in every process. For scale, the last rows time what
ChatAnthropic itself spends building the same requests (``_get_request_payload``),
before any network.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import time
from typing import Any

from llmopt.caching import PrefixMemory, plan_breakpoints
from llmopt.config import OptimizationConfig

MODEL = "claude-sonnet-4-6"
CONFIG = OptimizationConfig.from_dict({"optimizationEnabled": True, "cachingEnabled": True})

SYSTEM = " ".join(
    f"Rule {n}: answer precisely, cite the source document, and keep a neutral tone."
    for n in range(160)
)  # ~12,900 characters, ~3,200 tokens
TOOLS = [
    {
        "name": f"tool_{n}",
        "description": f"Look up records of kind {n} by id, date range and free-text filter.",
        "input_schema": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": "record id"},
                "since": {"type": "string", "format": "date"},
                "until": {"type": "string", "format": "date"},
                "query": {"type": "string"},
            },
            "required": ["id"],
        },
    }
    for n in range(8)
]


def _turn(n: int) -> list[dict[str, Any]]:
    if n % 5 == 4:  # every fifth turn is a tool round trip
        return [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"Let me look that up ({n})."},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{n}",
                        "name": "tool_1",
                        "input": {"id": str(n), "query": "status"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_{n}",
                        "content": f"record {n}: status active, owner team {n % 7}. " * 12,
                    },
                ],
            },
        ]
    return [
        {"role": "assistant", "content": f"Answer {n}: " + "the figures look consistent. " * 20},
        {"role": "user", "content": f"Question {n}: what about the next quarter? " * 4},
    ]


def _conversation(messages: int) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = [{"role": "user", "content": "Hello, let us review."}]
    turn = 0
    while len(history) < messages - 1:
        history.extend(_turn(turn))
        turn += 1
    return history[: messages - 1] + [{"role": "user", "content": "And now?"}]


def _payload(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 1024,
        "system": SYSTEM,
        "tools": TOOLS,
        "messages": messages,
    }


def bench(
    messages: int, calls: int, *, fresh_strings: bool, shared: bool = False
) -> tuple[float, float]:
    """Time the next turn of a ``messages``-long chat whose previous turn was planned."""
    previous = _conversation(messages - 2)
    pairs = []
    for n in range(calls):
        turn = previous[:-1] + [previous[-1], *_turn(10_000 + n)[:1]]
        turn.append({"role": "user", "content": f"And then, for case {n}?"})
        pairs.append((_payload(previous), _payload(turn)))
    if fresh_strings:
        pairs = [(json.loads(json.dumps(a)), json.loads(json.dumps(b))) for a, b in pairs]
    memory = PrefixMemory(shared=True) if shared else PrefixMemory()
    timings = []
    for earlier, payload in pairs:
        plan_breakpoints(earlier, model=MODEL, config=CONFIG, memory=memory)
        start = time.perf_counter_ns()
        plan_breakpoints(payload, model=MODEL, config=CONFIG, memory=memory)
        timings.append((time.perf_counter_ns() - start) / 1_000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def bench_langchain(messages: int, calls: int) -> tuple[float, float]:
    """Time ChatAnthropic building the same request from LangChain messages."""
    from langchain_anthropic import ChatAnthropic
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        HumanMessage,
        SystemMessage,
        ToolMessage,
    )

    history: list[BaseMessage] = [SystemMessage(SYSTEM)]
    for message in _conversation(messages):
        content = message["content"]
        if isinstance(content, str):
            kind = HumanMessage if message["role"] == "user" else AIMessage
            history.append(kind(content))
        elif message["role"] == "user":
            result = content[0]
            history.append(ToolMessage(result["content"], tool_call_id=result["tool_use_id"]))
        else:
            text, call = content
            tool_call = {"name": call["name"], "args": call["input"], "id": call["id"]}
            history.append(AIMessage(text["text"], tool_calls=[tool_call]))
    model = ChatAnthropic(model_name=MODEL, api_key="unused", timeout=None, stop=None)
    timings = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        model._get_request_payload(history, tools=TOOLS)
        timings.append((time.perf_counter_ns() - start) / 1_000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="timed calls per scenario")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per row; the row shows the run with the lowest median (noisy machines)",
    )
    parser.add_argument(
        "--planner-only", action="store_true", help="leave out the ChatAnthropic rows"
    )
    args = parser.parse_args()
    calls = args.calls
    # An older llmopt (PYTHONPATH at another checkout, to compare side by side) has no
    # shared memories: its rows are left out.
    shared_rows = "shared" in inspect.signature(PrefixMemory).parameters
    print(f"plan_breakpoints, auto mode, warm memory, {calls} calls per row, best of {args.repeat}")
    print(f"{'scenario':<46}{'median µs':>12}{'p95 µs':>12}")
    for messages in (20, 1_000):
        for fresh, shared in ((False, False), (True, False), (False, True), (True, True)):
            if shared and not shared_rows:
                continue
            median, p95 = min(
                bench(messages, calls, fresh_strings=fresh, shared=shared)
                for _ in range(args.repeat)
            )
            label = (
                f"{messages:,} messages"
                + (", fresh strings" if fresh else "")
                + (", shared memory" if shared else "")
            )
            print(f"{label:<46}{median:>12.1f}{p95:>12.1f}")
    if args.planner_only:
        return
    for messages in (20, 1_000):
        median, p95 = bench_langchain(messages, max(calls // 10, 10))
        label = f"{messages:,} messages, ChatAnthropic payload"
        print(f"{label:<46}{median:>12.1f}{p95:>12.1f}")


if __name__ == "__main__":
    main()
