"""What each cache strategy costs, measured by the sandbox's billing, on twelve workloads.

Workloads (ChatAnthropic -> OptimizedLLMWrapper -> llmopt sandbox over HTTP):
  W1 document indexing: 200 requests, one ~3k-token system prompt, a unique ~500-token document each
  W2 a 30-turn chat: ~1.5k-token system prompt, the conversation grows each turn
  W3 an agent: 5 tools, ~2k-token tool results, 12 steps
  W4 RAG: 60 questions, one ~1.5k prompt, one of 5 ~3k documents (random) opening each user turn
  W5 one-off prompts: 50 requests, each a unique ~3k-token system prompt and a short question
  W6 mix: 80 questions, ~3k system prompts: half one of 4 recurring ones (random), half one-off
  W7 multi-tenant: 4 tenants, each its own ~2k system prompt and 10-turn chat, turns interleaved
  W8 idle gaps: one ~3k system prompt, 10 bursts of 3 questions 20 s apart, 7 min idle between
  W9 a tool list that changes: W3's agent, 15 steps; a 6th tool at step 5, tool_0 reworded at 10
  W10 few-shot: 60 questions, ~1.5k prompt, one of 3 example sets (6 blocks, ~2k) opening the turn
  W11 a long agent loop: 12 steps of 3-4 parallel tool calls, every 4th fans out to 11 (22 blocks)
  W12 4 processes: W6's traffic, request i sent by worker process i % 4, all on one SQLite store

Strategies, each on a fresh sandbox, cost in USD from the sandbox's billing counters:
  none        the bare model, no cache_control
  positional  what gateways do: a breakpoint on the end of system and one on the last message
  ours        llmopt's planner (cacheBreakpoints "auto", cacheTTL from --ttl)
  optimum     clairvoyant: it knows every future request, reads the longest prefix already
              written, writes only a prefix a later request reads within its lifetime, and
              picks 5 m or 1 h by the arithmetic

The sandbox runs on a manual clock that only the workloads move (W8), and ours' planner
memory reads the same clock. W12's workers share what their planners learned through the
store before and after each request (see _serve; --share thread leaves it to the 2 s thread).

    uv run python tests/benchmarks/bench_savings.py                 # all workloads
    uv run python tests/benchmarks/bench_savings.py W6 W12 --ttl 3600
    uv run python tests/benchmarks/bench_savings.py W8 --decisions  # print ours' plans
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol

from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from llmopt.caching import CachePlan, PrefixMemory, plan_breakpoints
from llmopt.config import OptimizationConfig
from llmopt.errors import ConfigError
from llmopt.killswitch import create_kill_switch
from llmopt.sandbox import ManualClock, SandboxServer, running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore
from llmopt.wrapper import OptimizedLLMWrapper, learning_for

MODEL = "claude-sonnet-4-6"
FLAGS = {"optimizationEnabled": True, "cachingEnabled": True}
ENTRY_KEY = "bench-savings"
STRATEGIES = ("none", "positional", "ours", "optimum")

Place = Literal["system"] | int | tuple[int, int]
"""Where the optimum puts a breakpoint: "system"; the index into the request's `messages`
(the system prompt is not one of them; negative from the end) of a message whose last
block gets it; or (message, block) indexes of one block inside a message."""


@dataclass(frozen=True)
class OneHour:
    """A breakpoint whose entry lives 1 h: ``{"type": "ephemeral", "ttl": "1h"}``."""

    place: Place


Marks = tuple[Place | OneHour, ...]
Step = tuple[list[BaseMessage], dict[str, Any], Marks]
"""One request of a workload: its messages, bind options and the optimum's marks."""


def words(count: int, seed: str) -> str:
    return " ".join(f"{seed}{n % 97}" for n in range(count))


def question(n: int) -> str:
    return f"Question {n}: " + words(30, f"q{n}x")


# -- planners for the comparison ---------------------------------------------------


def _with_marker(content: Any, block: int, marker: dict[str, str]) -> tuple[list[Any], int]:
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    block %= len(blocks)
    blocks[block] = {**blocks[block], "cache_control": marker}
    return blocks, block


def _marked(payload: Mapping[str, Any], marks: Marks) -> dict[str, Any]:
    out = dict(payload)
    out["messages"] = messages = list(out["messages"])
    placed: list[tuple[tuple[int, int], str]] = []  # (message, block) in prefix order, ttl
    for mark in marks:
        place, ttl = (mark.place, "1h") if isinstance(mark, OneHour) else (mark, "5m")
        # No ttl means 5 minutes, as the planner writes it.
        marker = {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}
        if isinstance(place, str):  # "system"
            out["system"], block = _with_marker(out["system"], -1, marker)
            placed.append(((-1, block), ttl))
            continue
        index, block = (place, -1) if isinstance(place, int) else place
        index %= len(messages)
        message = dict(messages[index])
        message["content"], block = _with_marker(message["content"], block, marker)
        messages[index] = message
        placed.append(((index, block), ttl))
    ttls = [ttl for _, ttl in sorted(placed)]
    if "5m" in ttls and "1h" in ttls[ttls.index("5m") :]:
        raise ValueError(f"a 1h breakpoint may not come after a 5m one: {marks}")
    return out


def positional_planner(payload: Mapping[str, Any], **_: Any) -> CachePlan:
    marks: Marks = ("system", -1)
    return CachePlan(payload=_marked(payload, marks), breakpoints=(), decisions=(), changed=True)


class Oracle:
    """The clairvoyant planner: the driver tells it, per call, which prefixes to mark."""

    def __init__(self) -> None:
        self.next_marks: Marks = ()

    def __call__(self, payload: Mapping[str, Any], **_: Any) -> CachePlan:
        marked = _marked(payload, self.next_marks)
        return CachePlan(payload=marked, breakpoints=(), decisions=(), changed=True)


def explained(payload: Mapping[str, Any], **options: Any) -> CachePlan:
    """``plan_breakpoints``, printing each plan's decisions (``--decisions``)."""
    plan = plan_breakpoints(payload, **options)
    print(f"-- ours: {plan.content_blocks} blocks, ~{plan.estimated_tokens:,} tokens", flush=True)
    for decision in plan.decisions:
        print(f"     {decision}", flush=True)
    return plan


# -- what a workload talks to -------------------------------------------------------


class Client(Protocol):
    def send(self, messages: list[BaseMessage], options: dict[str, Any], marks: Marks) -> AIMessage:
        """Send a request; ``marks`` are the optimum's breakpoints for it."""
        ...

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass on the sandbox's clock."""
        ...


# -- shared shapes: chats and agents --------------------------------------------------


def growth_marks(*, fresh: bool, last: bool) -> Marks:
    """The optimum for a request that extends the one before it by two messages (a chat's
    turn, an agent's step): read where that one ended (nothing to read when its prefix is
    fresh), write its own end unless no request follows."""
    marks: Marks = ("system",) if fresh else (-3,)
    return marks if last else (*marks, -1)


class Chat:
    """A conversation that grows by a question and its answer each turn."""

    def __init__(self, system: str, *, turns: int, tag: str) -> None:
        self.messages: list[BaseMessage] = [SystemMessage(system)]
        self.turns = turns
        self.tag = tag
        self.turn = 0

    def take_turn(self, client: Client) -> None:
        turn = self.turn
        self.messages.append(HumanMessage(f"Turn {turn}: " + words(100, f"{self.tag}{turn}u")))
        marks = growth_marks(fresh=turn == 0, last=turn == self.turns - 1)
        reply = client.send(self.messages, {}, marks)
        self.messages.append(AIMessage(str(reply.content)))
        self.turn += 1


def tool(n: int, about: str = "desc") -> dict[str, Any]:
    return {
        "name": f"tool_{n}",
        "description": f"Tool {n}. " + words(150, f"{about}{n}"),
        "input_schema": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
        },
    }


TOOLS = [tool(n) for n in range(5)]


class Agent:
    """A tool-using agent: each step, the model's (parallel) tool calls and their results
    join the conversation."""

    def __init__(self, system: str, task: str, *, steps: int) -> None:
        self.messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(task)]
        self.steps = steps
        self.step = 0

    def take_step(
        self,
        client: Client,
        tools: list[dict[str, Any]],
        results: Sequence[int],
        *,
        fresh: bool = False,
    ) -> None:
        """Send the conversation, then add one tool call per entry of ``results`` (its
        result's length in tokens). ``fresh``: the prefix changed (the tool list), so
        nothing earlier can be read."""
        step = self.step
        marks = growth_marks(fresh=fresh or step == 0, last=step == self.steps - 1)
        client.send(self.messages, {"tools": tools}, marks)
        suffixes = [f"_{k}" if k else "" for k in range(len(results))]
        calls = [
            {
                "name": f"tool_{(step + k) % 5}",
                "args": {"q": f"step {step}{suffix}"},
                "id": f"toolu_{step:02d}{suffix}",
            }
            for k, suffix in enumerate(suffixes)
        ]
        self.messages.append(AIMessage("", tool_calls=calls))
        for call, suffix, size in zip(calls, suffixes, results, strict=True):
            self.messages.append(
                ToolMessage(words(size, f"r{step}{suffix}x"), tool_call_id=call["id"])
            )
        self.step += 1


def openings_then_question(
    system: SystemMessage, openings: list[list[dict[str, Any]]], picks: list[int]
) -> Iterator[Step]:
    """Requests whose user turn opens with one of a few shared block sets (a document,
    few-shot examples), the set ``picks`` says, then a unique question."""
    for n, pick in enumerate(picks):
        opening = openings[pick]
        turn = HumanMessage([*opening, {"type": "text", "text": question(n)}])
        # A set that comes again is written the first time and read after; one seen
        # once is not worth writing. The system prompt is read by every request.
        recurs = picks.count(pick) > 1
        yield [system, turn], {}, ("system", (0, len(opening) - 1)) if recurs else ("system",)


# -- workloads ------------------------------------------------------------------------


def w1_documents() -> Iterator[Step]:
    system = SystemMessage("You index documents. " + words(3_000, "rule"))
    for n in range(200):
        # The first request writes the system prompt, the others read it; no tail is reused.
        yield [system, HumanMessage(f"Document {n}: " + words(500, f"d{n}x"))], {}, ("system",)


def w2_chat(client: Client) -> None:
    # The optimum reads what the previous turn wrote and writes this one (growth_marks).
    chat = Chat("You are a support agent. " + words(1_500, "kb"), turns=30, tag="t")
    for _ in range(chat.turns):
        chat.take_turn(client)


def w3_agent(client: Client) -> None:
    # The optimum reads what the previous step wrote and writes this one (growth_marks).
    agent = Agent(
        "You are a research agent. " + words(800, "sys"),
        "Research the question. " + words(100, "task"),
        steps=12,
    )
    for _ in range(agent.steps):
        agent.take_step(client, TOOLS, [2_000])


def w4_rag() -> Iterator[Step]:
    system = SystemMessage("Answer from the document given. " + words(1_500, "inst"))
    documents = [[{"type": "text", "text": words(3_000, f"doc{k}x")}] for k in range(5)]
    yield from openings_then_question(system, documents, random.Random(4).choices(range(5), k=60))


def w5_one_off() -> Iterator[Step]:
    for n in range(50):
        system = SystemMessage(f"Persona {n}. " + words(3_000, f"p{n}x"))
        # Nothing recurs: writing any prefix is money spent on a read that never comes.
        yield [system, HumanMessage(question(n))], {}, ()


def w6_mix() -> Iterator[Step]:
    rng = random.Random(6)
    recurring = [SystemMessage(f"Product {k} guide. " + words(3_000, f"g{k}x")) for k in range(4)]
    one_off = [SystemMessage(f"Case file {n}. " + words(3_000, f"c{n}x")) for n in range(40)]
    prompts = [*rng.choices(recurring, k=40), *one_off]
    rng.shuffle(prompts)
    for n, system in enumerate(prompts):
        # A system prompt that comes again is written at its first sighting and read
        # after; a one-off's write would never be read.
        recurs = prompts.count(system) > 1
        yield [system, HumanMessage(question(n))], {}, ("system",) if recurs else ()


def w7_tenants(client: Client) -> None:
    chats = [
        Chat(f"You are tenant {k}'s assistant. " + words(2_000, f"ten{k}x"), turns=10, tag=f"k{k}t")
        for k in range(4)
    ]
    order = [k for k, chat in enumerate(chats) for _ in range(chat.turns)]
    random.Random(7).shuffle(order)
    for k in order:
        # Each tenant's optimum is W2's: nothing expires, so interleaving changes nothing.
        chats[k].take_turn(client)


def w8_idle_gaps(client: Client) -> None:
    system = SystemMessage("You answer support tickets. " + words(3_000, "pol"))
    for burst in range(10):
        if burst:
            client.wait(7 * 60)
        for n in range(3):
            if n:
                client.wait(20)
            ticket = HumanMessage(f"Ticket {burst}.{n}: " + words(30, f"b{burst}n{n}x"))
            # Bursts are further apart than a 5 m entry lives: one 1 h write (2x) read by
            # the 29 others beats a 5 m write (1.25x) per burst, read twice.
            client.send([system, ticket], {}, (OneHour("system"),))


def w9_tools_change(client: Client) -> None:
    agent = Agent(
        "You are a migration agent. " + words(800, "mig"),
        "Migrate the service. " + words(100, "job"),
        steps=15,
    )
    gained = [*TOOLS, tool(5)]
    reworded = [tool(0, "revised"), *gained[1:]]
    for step in range(agent.steps):
        tools = TOOLS if step < 5 else gained if step < 10 else reworded
        # A new tool list changes the prefix from its first block: nothing before it can
        # be read, so that step only writes; otherwise as W3 (growth_marks).
        agent.take_step(client, tools, [2_000], fresh=step in (5, 10))


def w10_few_shot() -> Iterator[Step]:
    system = SystemMessage("Classify the ticket as the examples do. " + words(1_500, "cls"))
    sets = [
        [
            {"type": "text", "text": f"Example {k}.{e}: " + words(330, f"ex{k}_{e}x")}
            for e in range(6)
        ]
        for k in range(3)
    ]
    # The optimum writes each set's last block when first seen and reads it after.
    yield from openings_then_question(system, sets, random.Random(10).choices(range(3), k=60))


def w11_long_agent(client: Client) -> None:
    agent = Agent(
        "You are an operations agent. " + words(800, "ops"),
        "Find why the service is slow. " + words(100, "inc"),
        steps=12,
    )
    for step in range(agent.steps):
        fan_out = 11 if step % 4 == 3 else 3 + step % 2
        # The optimum marks the previous step's end again (growth_marks), so it is read
        # even when a fan-out of 11 calls puts it 22+ blocks back, past the lookback.
        agent.take_step(client, TOOLS, [300] * fan_out)


def replay(steps: Callable[[], Iterator[Step]]) -> Callable[[Client], None]:
    def drive(client: Client) -> None:
        for messages, options, marks in steps():
            client.send(messages, options, marks)

    return drive


@dataclass(frozen=True)
class Workload:
    drive: Callable[[Client], None]
    processes: int = 1
    """More than one: each request goes to the next of this many worker processes."""


WORKLOADS = {
    "W1": Workload(replay(w1_documents)),
    "W2": Workload(w2_chat),
    "W3": Workload(w3_agent),
    "W4": Workload(replay(w4_rag)),
    "W5": Workload(replay(w5_one_off)),
    "W6": Workload(replay(w6_mix)),
    "W7": Workload(w7_tenants),
    "W8": Workload(w8_idle_gaps),
    "W9": Workload(w9_tools_change),
    "W10": Workload(replay(w10_few_shot)),
    "W11": Workload(w11_long_agent),
    "W12": Workload(replay(w6_mix), processes=4),
}


# -- strategies as models ---------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """How to build one strategy's model; pickled to worker processes."""

    base_url: str
    api_key: str
    strategy: str
    ours_flags: Mapping[str, Any]
    explain: bool = False
    share_each_request: bool = True

    @property
    def flags(self) -> Mapping[str, Any]:
        return self.ours_flags if self.strategy == "ours" else FLAGS

    def model(self, oracle: Oracle, **wrapper_options: Any) -> Any:
        base = ChatAnthropic(
            model=MODEL, base_url=self.base_url, api_key=self.api_key, max_tokens=150
        )
        if self.strategy == "none":
            return base
        planners: dict[str, Callable[..., CachePlan]] = {
            "positional": positional_planner,
            "ours": explained if self.explain else plan_breakpoints,
            "optimum": oracle,
        }
        return OptimizedLLMWrapper(
            base, "anthropic", dict(self.flags), planner=planners[self.strategy], **wrapper_options
        )


def _invoke(
    model: Any, oracle: Oracle, messages: list[BaseMessage], options: dict[str, Any], marks: Marks
) -> AIMessage:
    oracle.next_marks = marks
    runnable = model.bind(**options) if options else model
    reply = runnable.invoke(messages)
    assert isinstance(reply, AIMessage)
    return reply


class InProcess:
    """A client calling the strategy's model here, on the sandbox's clock."""

    def __init__(self, setup: Setup, clock: ManualClock) -> None:
        self.oracle = Oracle()
        self.model = setup.model(self.oracle, prefix_memory=PrefixMemory(clock=clock))
        self.clock = clock

    def send(self, messages: list[BaseMessage], options: dict[str, Any], marks: Marks) -> AIMessage:
        return _invoke(self.model, self.oracle, messages, options, marks)

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def close(self) -> None:
        pass


def _serve(connection: Connection, setup: Setup, store_path: str) -> None:
    """A worker process: builds its own model on the shared store and answers the driver's
    requests in turn."""
    oracle = Oracle()
    store = SQLiteStore(store_path)
    model = setup.model(oracle, store=store, entry_key=ENTRY_KEY)
    if isinstance(model, OptimizedLLMWrapper):
        assert model.watcher is not None
        # Until the watcher has read the store, a wrapper behaves as the bare model.
        ready = model.watcher.wait_for(
            lambda s: s.available and not s.kill_switch_engaged and bool(s.entries.get(ENTRY_KEY)),
            timeout=30,
        )
        assert ready, f"the worker never read the flags: {model.watcher.snapshot.problem}"
    learning = learning_for(store)
    connection.send("ready")
    while (request := connection.recv()) is not None:
        # The run packs minutes of traffic into seconds, so the sharing thread (every 2 s)
        # would see almost none of it: share before and after each request instead, as
        # the thread would with requests some seconds apart. Deterministic, too.
        # (--share thread leaves it to the thread alone.)
        if setup.share_each_request:
            learning.sync()
        reply = _invoke(model, oracle, *request)
        if setup.share_each_request:
            learning.sync()
        connection.send(reply)


class WorkerProcesses:
    """A client whose request i goes to worker process i % count, one request at a time, so
    a run is deterministic. Each worker has its own ChatAnthropic and wrapper; the wrappers
    share one SQLite store, seeded with the entry's flags as a user's would be."""

    def __init__(self, setup: Setup, count: int) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="bench-savings-")
        store_path = str(Path(self._directory.name) / "llmopt.db")
        _seed_store(SQLiteStore(store_path), setup.flags)
        # A fork server that imported the SDKs once forks the workers: no fork of the
        # sandbox's threads, and no five-second import per worker. (Python 3.11's fork
        # server never preloads "__main__" itself: it asks for the wrong key.)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["langchain_anthropic", "llmopt.wrapper"])
        self.connections: list[Connection] = []
        self.processes = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, setup, store_path), daemon=True)
            process.start()
            self.connections.append(ours)
            self.processes.append(process)
        for connection in self.connections:
            assert connection.recv() == "ready"
        self.sent = 0

    def send(self, messages: list[BaseMessage], options: dict[str, Any], marks: Marks) -> AIMessage:
        connection = self.connections[self.sent % len(self.connections)]
        self.sent += 1
        connection.send((messages, options, marks))
        reply = connection.recv()
        assert isinstance(reply, AIMessage)
        return reply

    def wait(self, seconds: float) -> None:
        # The workers' planner memories run on their own clocks, not the sandbox's.
        raise NotImplementedError("a workload spread over processes cannot move the clock")

    def close(self) -> None:
        for connection in self.connections:
            connection.send(None)
        for process in self.processes:
            process.join(timeout=30)
        self._directory.cleanup()


def _seed_store(store: SQLiteStore, flags: Mapping[str, Any]) -> None:
    entry = {
        "provider": "anthropic",
        "modelKey": ENTRY_KEY,
        "configuration": {"model": MODEL, **flags},
    }
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [entry]},
        expected_revision=None,
        audit=AuditEvent(actor="bench", action="seed", target="aiconfigs"),
    )
    create_kill_switch(store, actor="bench")  # as the migration does: none reads as engaged
    store.close()


# -- running ------------------------------------------------------------------------


def run(sandbox: SandboxServer, clock: ManualClock, workload: Workload, setup: Setup) -> Decimal:
    sandbox.reset()
    client: InProcess | WorkerProcesses = (
        InProcess(setup, clock)
        if workload.processes == 1
        else WorkerProcesses(setup, workload.processes)
    )
    try:
        workload.drive(client)
    finally:
        client.close()
    billed = sandbox.billing().total
    assert billed.requests_errored == 0, f"{setup.strategy}: requests failed"
    assert billed.cost_usd is not None
    return billed.cost_usd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = list(WORKLOADS)
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(names)} (all)")
    parser.add_argument(
        "--ttl", choices=("300", "3600", "auto"), default="300", help="ours' cacheTTL (300)"
    )
    parser.add_argument(
        "--decisions", action="store_true", help="print ours' plans' decisions, request by request"
    )
    parser.add_argument(
        "--share",
        choices=("each", "thread"),
        default="each",
        help="W12's workers share what they learned before and after each request (each), "
        "or only through the sharing thread, every 2 s (thread)",
    )
    args = parser.parse_args()
    unknown = set(args.workloads) - set(names)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}: choose from {', '.join(names)}")
    ours_flags = {**FLAGS, "cacheTTL": args.ttl if args.ttl == "auto" else int(args.ttl)}
    try:
        OptimizationConfig.from_dict(ours_flags, provider="anthropic")
    except ConfigError as exc:
        parser.error(f"--ttl {args.ttl}: {exc}")
    clock = ManualClock()
    with running_sandbox(clock=clock) as sandbox:
        print(f"ours: cacheBreakpoints auto, cacheTTL {args.ttl}")
        print(
            f"{'workload':10s}"
            + "".join(f"{s:>13s}" for s in STRATEGIES)
            + "  ours/optimum  ours/positional  ours/none",
            flush=True,
        )
        for name in args.workloads or names:
            costs = {
                strategy: run(
                    sandbox,
                    clock,
                    WORKLOADS[name],
                    Setup(
                        sandbox.base_url,
                        sandbox.api_key,
                        strategy,
                        ours_flags,
                        args.decisions,
                        share_each_request=args.share == "each",
                    ),
                )
                for strategy in STRATEGIES
            }
            row = "".join(f"{'$' + format(costs[s], '.4f'):>13s}" for s in STRATEGIES)
            print(
                f"{name:10s}{row}  {costs['ours'] / costs['optimum']:12.3f}"
                f"  {costs['ours'] / costs['positional']:15.3f}"
                f"  {costs['ours'] / costs['none']:9.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
