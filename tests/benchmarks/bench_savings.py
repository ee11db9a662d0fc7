"""What each cache strategy costs, measured by the sandbox's billing, on five workloads.

Workloads (ChatAnthropic -> OptimizedLLMWrapper -> llmopt sandbox over HTTP):
  W1 document indexing: 200 requests, one ~3k-token system prompt, a unique ~500-token document each
  W2 a 30-turn chat: ~1.5k-token system prompt, the conversation grows each turn
  W3 an agent: 5 tools, ~2k-token tool results, 12 steps
  W4 RAG: 60 questions over one ~1.5k-token instruction prompt, each with one of 5 ~3k-token
     documents (random order) as the first block of its user turn, then a short question
  W5 one-off prompts: 50 requests, each a unique ~3k-token system prompt and a short question

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
import random
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
# them) of the messages whose last block gets a breakpoint, or (message, block) indexes of
# one block inside a message.
Marks = tuple[str | int | tuple[int, int], ...]


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
    for mark in marks:
        if mark == "system":
            continue
        index, block = (mark, -1) if isinstance(mark, int) else mark
        message = dict(messages[index])
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        blocks[block] = {**blocks[block], "cache_control": marker}
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


def w4_rag() -> Iterator[Step]:
    system = SystemMessage("Answer from the document given. " + words(1_500, "inst"))
    documents = [words(3_000, f"doc{k}x") for k in range(5)]
    picks = random.Random(4).choices(range(5), k=60)
    for n, pick in enumerate(picks):
        question = f"Question {n}: " + words(30, f"q{n}x")
        turn = HumanMessage(
            [{"type": "text", "text": documents[pick]}, {"type": "text", "text": question}]
        )
        # A document that comes again is written the first time and read after; one seen
        # once is not worth writing. The instruction prompt is read by every request.
        recurs = picks.count(pick) > 1
        yield [system, turn], {}, ("system", (0, 0)) if recurs else ("system",)


def w5_one_off() -> Iterator[Step]:
    for n in range(50):
        system = SystemMessage(f"Persona {n}. " + words(3_000, f"p{n}x"))
        # Nothing recurs: writing any prefix is money spent on a read that never comes.
        yield [system, HumanMessage(f"Question {n}: " + words(30, f"q{n}x"))], {}, ()


STEPPED: dict[str, Callable[[], Iterator[Step]]] = {
    "W1": w1_documents,
    "W4": w4_rag,
    "W5": w5_one_off,
}
DRIVEN = {"W2": w2_chat, "W3": w3_agent}


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

    if workload in STEPPED:
        for messages, options, marks in STEPPED[workload]():
            send(messages, options, marks)
    else:
        DRIVEN[workload](send)
    billed = sandbox.billing().total
    assert billed.requests_errored == 0, f"{workload}/{strategy}: requests failed"
    assert billed.cost_usd is not None
    return billed.cost_usd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    workloads = sorted([*STEPPED, *DRIVEN])
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(workloads)} (all)")
    args = parser.parse_args()
    unknown = set(args.workloads) - set(workloads)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}: choose from {', '.join(workloads)}")
    strategies = ("none", "positional", "ours", "optimum")
    with running_sandbox() as sandbox:
        print(
            f"{'workload':10s}"
            + "".join(f"{s:>13s}" for s in strategies)
            + "  ours/optimum  ours/positional  ours/none"
        )
        for workload in args.workloads or workloads:
            costs = {strategy: run(sandbox, workload, strategy) for strategy in strategies}
            row = "".join(f"{'$' + format(costs[s], '.4f'):>13s}" for s in strategies)
            print(
                f"{workload:10s}{row}  {costs['ours'] / costs['optimum']:12.3f}"
                f"  {costs['ours'] / costs['positional']:15.3f}"
                f"  {costs['ours'] / costs['none']:9.3f}"
            )


if __name__ == "__main__":
    main()
