"""Overhead of OptimizedLLMWrapper (caching on) over the bare ChatAnthropic, side by side.

Both run the same ChatAnthropic whose HTTP transport answers instantly in memory (no
network, no server), on the same 6-message conversation with a ~3k-token system
prompt, interleaved call by call so machine noise hits them alike. For scale: a naive
BaseChatModel subclass that calls the base model's ``ainvoke``, and the bare model sending
the same cache_control markers by hand (block-form content costs LangChain and the SDK
more to serialise than plain strings, planner or not). Where the wrapper's time goes:
the wrapper with optimization off, with a planner that places nothing, and with the
planner's first plan replayed (the marked request sent, no planning).

    uv run python tests/benchmarks/bench_wrapper_overhead.py [--calls 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import anthropic
import httpx2 as httpx
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from llmopt.caching import CachePlan, plan_breakpoints
from llmopt.wrapper import OptimizedLLMWrapper

REPLY = {
    "id": "msg_bench",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 40,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 3200,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 1,
        "service_tier": "standard",
    },
}
BODY = json.dumps(REPLY).encode()


def instant_model() -> ChatAnthropic:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})

    model = ChatAnthropic(model="claude-sonnet-4-6", api_key="bench", max_tokens=16)  # type: ignore[call-arg]
    # _async_client is a cached_property: giving it a value is its documented override.
    model.__dict__["_async_client"] = anthropic.AsyncAnthropic(
        api_key="bench", http_client=httpx.AsyncClient(transport=httpx.MockTransport(answer))
    )
    return model


class NaiveWrapper(BaseChatModel):
    """What a first attempt looks like: a chat model that calls the base model's ainvoke."""

    base: BaseChatModel

    @property
    def _llm_type(self) -> str:
        return "naive"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        message = await self.base.ainvoke(messages, stop=stop, **kwargs)
        assert isinstance(message, AIMessage)
        return ChatResult(generations=[ChatGeneration(message=message)])


def conversation() -> list[BaseMessage]:
    system = " ".join(
        f"Rule {i}: answer precisely and cite the policy section." for i in range(400)
    )
    return [
        SystemMessage(system),
        HumanMessage("What does section 4 say?"),
        AIMessage("Section 4 covers refunds."),
        HumanMessage("And section 5?"),
        AIMessage("Section 5 covers shipping."),
        HumanMessage("Summarise both in one sentence."),
    ]


def hand_marked(messages: list[BaseMessage]) -> list[BaseMessage]:
    """The conversation with cache_control where the planner puts it: system and last turn."""

    def marked(text: object) -> list[str | dict[str, Any]]:
        return [{"type": "text", "text": str(text), "cache_control": {"type": "ephemeral"}}]

    system, *middle, last = messages
    return [SystemMessage(marked(system.content)), *middle, HumanMessage(marked(last.content))]


def no_plan(payload: dict[str, Any], **_: Any) -> CachePlan:
    return CachePlan(payload=payload, breakpoints=(), decisions=(), changed=False)


def replayed_plan() -> Any:
    """A planner that plans once and sends that same marked request ever after."""
    first: list[CachePlan] = []

    def planner(payload: dict[str, Any], **options: Any) -> CachePlan:
        if not first:
            first.append(plan_breakpoints(payload, **options))
        return first[0]

    return planner


async def main(calls: int) -> None:
    base = instant_model()
    caching = {"optimizationEnabled": True, "cachingEnabled": True}
    wrapper = OptimizedLLMWrapper(base, "anthropic", caching)
    naive = NaiveWrapper(base=base)
    messages = conversation()
    runs: dict[str, tuple[BaseChatModel, list[BaseMessage]]] = {
        "base": (base, messages),
        "wrapper": (wrapper, messages),
        "naive": (naive, messages),
        # The bare model sending, by hand, the breakpoints the wrapper places: what the
        # marked request itself costs in LangChain and the SDK, without any planning.
        "base+marks": (base, hand_marked(messages)),
        "w/off": (OptimizedLLMWrapper(base, "anthropic", {"optimizationEnabled": False}), messages),
        "w/no plan": (OptimizedLLMWrapper(base, "anthropic", caching, planner=no_plan), messages),
        "w/replayed": (
            OptimizedLLMWrapper(base, "anthropic", caching, planner=replayed_plan()),
            messages,
        ),
    }
    for model, prompt in runs.values():  # warm-up: imports, caches, connection pools
        for _ in range(50):
            await model.ainvoke(prompt)
    # Interleaved call by call, so a noisy moment hits them all alike; medians of
    # per-call times ignore the odd GC pause or scheduler hiccup.
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(calls):
        for name, (model, prompt) in runs.items():
            start = time.perf_counter()
            await model.ainvoke(prompt)
            samples[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{calls} interleaved ainvoke calls per model; median µs per call")
    for name, value in medians.items():
        print(f"  {name:11s} {value * 1e6:9.1f} µs")
    print(f"wrapper/base = {medians['wrapper'] / medians['base']:.3f} (target <= 1.10)")
    print(f"naive/base   = {medians['naive'] / medians['base']:.3f}")
    print(f"base+marks/base = {medians['base+marks'] / medians['base']:.3f}")
    base_time = medians["base"]
    print(
        "where the wrapper's time goes, µs over base: "
        + ", ".join(
            f"{name} +{(medians[name] - base_time) * 1e6:.0f}"
            for name in ("w/off", "w/no plan", "w/replayed", "wrapper")
        )
    )
    stats = wrapper.get_cache_stats()
    print(f"wrapper calls={stats['calls']} optimized={stats['optimized_calls']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.calls))
