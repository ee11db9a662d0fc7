"""What each cache strategy costs, measured by the sandbox's billing, on three workloads.

Workloads (ChatAnthropic -> OptimizedLLMWrapper -> llmopt sandbox over HTTP):
  W1 document indexing: 200 requests, one ~3k-token system prompt, a unique ~500-token document each
  W2 a 30-turn chat: ~1.5k-token system prompt, the conversation grows each turn
  W3 an agent: 5 tools, ~2k-token tool results, 12 steps

Strategies, each on a fresh sandbox, cost in USD from the sandbox's billing counters:
  none        the bare model, no cache_control
  positional  what gateways do: a breakpoint on the end of system and one on the last message
  ours        llmopt's planner (cacheBreakpoints "auto")
  optimum     clairvoyant: it knows every future request, reads the longest prefix already
              written and writes only a prefix a later request will read

    uv run python tests/benchmarks/bench_savings.py
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from llmopt.caching import CachePlan
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.wrapper import OptimizedLLMWrapper

MODEL = "claude-sonnet-4-6"
FLAGS = {"optimizationEnabled": True, "cachingEnabled": True}
# "system", and/or indexes into the request's `messages` (the system prompt is not one of
# them) of the messages whose last block gets a breakpoint.
Marks = tuple[str | int, ...]


def words(count: int, seed: str) -> str:
    return " ".join(f"{seed}{n % 97}" for n in range(count))


# -- planners for the comparison ---------------------------------------------------


def _marked(payload: Mapping[str, Any], marks: Marks) -> dict[str, Any]:
    marker = {"type": "ephemeral"}
    out = dict(payload)
    if "system" in marks and out.get("system"):
        system = out["system"]
        blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
        blocks[-1] = {**blocks[-1], "cache_control": marker}
        out["system"] = blocks
    messages = list(out["messages"])
    for index in (m for m in marks if isinstance(m, int)):
        message = dict(messages[index])
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        blocks[-1] = {**blocks[-1], "cache_control": marker}
        message["content"] = blocks
        messages[index] = message
    out["messages"] = messages
    return out


def positional_planner(payload: Mapping[str, Any], **_: Any) -> CachePlan:
    marks: Marks = ("system", len(payload["messages"]) - 1)
    return CachePlan(payload=_marked(payload, marks), breakpoints=(), decisions=(), changed=True)


class Oracle:
    """The clairvoyant planner: the driver tells it, per call, which prefixes to mark."""

    def __init__(self) -> None:
        self.next_marks: Marks = ()

    def __call__(self, payload: Mapping[str, Any], **_: Any) -> CachePlan:
        marked = _marked(payload, self.next_marks)
        return CachePlan(payload=marked, breakpoints=(), decisions=(), changed=True)


# -- workloads: each yields (messages, bind options, the oracle's marks) ---------------

Step = tuple[list[BaseMessage], dict[str, Any], Marks]


def w1_documents() -> Iterator[Step]:
    system = SystemMessage("You index documents. " + words(3_000, "rule"))
    for n in range(200):
        # The first request writes the system prompt, the others read it; no tail is reused.
        yield [system, HumanMessage(f"Document {n}: " + words(500, f"d{n}x"))], {}, ("system",)


def w2_chat(send: Callable[[list[BaseMessage], dict[str, Any], Marks], AIMessage]) -> None:
    messages: list[BaseMessage] = [SystemMessage("You are a support agent. " + words(1_500, "kb"))]
    turns = 30
    for turn in range(turns):
        messages.append(HumanMessage(f"Turn {turn}: " + words(100, f"t{turn}u")))
        # Read what the previous turn wrote; write this turn unless nothing follows it.
        last = len(messages) - 2  # its index in the request, which has no system message
        marks: Marks = ("system",) if turn == 0 else (last - 2,)
        if turn < turns - 1:
            marks = (*marks, last)
        reply = send(messages, {}, marks)
        messages.append(AIMessage(str(reply.content)))


TOOLS = [
    {
        "name": f"tool_{n}",
        "description": f"Tool {n}. " + words(150, f"desc{n}"),
        "input_schema": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
        },
    }
    for n in range(5)
]


def w3_agent(send: Callable[[list[BaseMessage], dict[str, Any], Marks], AIMessage]) -> None:
    messages: list[BaseMessage] = [
        SystemMessage("You are a research agent. " + words(800, "sys")),
        HumanMessage("Research the question. " + words(100, "task")),
    ]
    steps = 12
    for step in range(steps):
        last = len(messages) - 2
        marks: Marks = ("system",) if step == 0 else (last - 2,)
        if step < steps - 1:
            marks = (*marks, last)
        send(messages, {"tools": TOOLS}, marks)
        call = {
            "name": f"tool_{step % 5}",
            "args": {"q": f"step {step}"},
            "id": f"toolu_{step:02d}",
        }
        messages.append(AIMessage("", tool_calls=[call]))
        messages.append(ToolMessage(words(2_000, f"r{step}x"), tool_call_id=call["id"]))


# -- running ------------------------------------------------------------------------


def run(sandbox: SandboxServer, workload: str, strategy: str) -> Decimal:
    sandbox.reset()
    base = ChatAnthropic(
        model=MODEL, base_url=sandbox.base_url, api_key=sandbox.api_key, max_tokens=150
    )  # type: ignore[call-arg]
    oracle = Oracle()
    planners: dict[str, Any] = {"positional": positional_planner, "optimum": oracle}
    if strategy == "none":
        model: Any = base
    elif strategy == "ours":
        model = OptimizedLLMWrapper(base, "anthropic", FLAGS)
    else:
        model = OptimizedLLMWrapper(base, "anthropic", FLAGS, planner=planners[strategy])

    def send(messages: list[BaseMessage], options: dict[str, Any], marks: Marks) -> AIMessage:
        oracle.next_marks = marks
        runnable = model.bind(**options) if options else model
        reply = runnable.invoke(messages)
        assert isinstance(reply, AIMessage)
        return reply

    if workload == "W1":
        for messages, options, marks in w1_documents():
            send(messages, options, marks)
    elif workload == "W2":
        w2_chat(send)
    else:
        w3_agent(send)
    billed = sandbox.billing().total
    assert billed.requests_errored == 0, f"{workload}/{strategy}: requests failed"
    assert billed.cost_usd is not None
    return billed.cost_usd


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    strategies = ("none", "positional", "ours", "optimum")
    with running_sandbox() as sandbox:
        print(
            f"{'workload':10s}"
            + "".join(f"{s:>13s}" for s in strategies)
            + "  ours/optimum  ours/positional"
        )
        for workload in ("W1", "W2", "W3"):
            costs = {strategy: run(sandbox, workload, strategy) for strategy in strategies}
            row = "".join(f"{'$' + format(costs[s], '.4f'):>13s}" for s in strategies)
            print(
                f"{workload:10s}{row}  {costs['ours'] / costs['optimum']:12.3f}"
                f"  {costs['ours'] / costs['positional']:15.3f}"
            )


if __name__ == "__main__":
    main()
