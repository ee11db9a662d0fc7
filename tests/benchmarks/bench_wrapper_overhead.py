"""Overhead of OptimizedLLMWrapper (caching on) over the bare ChatAnthropic, side by side.

Both run the same ChatAnthropic whose HTTP transport answers instantly in memory (no
network, no server), on the same 6-message conversation with a ~3k-token system
prompt, in interleaved rounds so machine noise hits both alike. A third column is a
naive BaseChatModel subclass that calls the base model's ``ainvoke``, for scale.

    uv run python tests/benchmarks/bench_wrapper_overhead.py [--rounds 30] [--calls 200]
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


async def time_calls(model: BaseChatModel, messages: list[BaseMessage], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await model.ainvoke(messages)
    return (time.perf_counter() - start) / calls


async def main(rounds: int, calls: int) -> None:
    base = instant_model()
    wrapper = OptimizedLLMWrapper(
        base, "anthropic", {"optimizationEnabled": True, "cachingEnabled": True}
    )
    naive = NaiveWrapper(base=base)
    messages = conversation()
    for model in (base, wrapper, naive):  # warm-up: imports, caches, connection pools
        await time_calls(model, messages, 20)
    samples: dict[str, list[float]] = {"base": [], "wrapper": [], "naive": []}
    for _ in range(rounds):
        samples["base"].append(await time_calls(base, messages, calls))
        samples["wrapper"].append(await time_calls(wrapper, messages, calls))
        samples["naive"].append(await time_calls(naive, messages, calls))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"rounds={rounds} calls/round={calls} (median of per-round mean µs per ainvoke)")
    for name, value in medians.items():
        print(f"  {name:8s} {value * 1e6:9.1f} µs")
    ratios = [w / b for w, b in zip(samples["wrapper"], samples["base"], strict=True)]
    naive_ratios = [n / b for n, b in zip(samples["naive"], samples["base"], strict=True)]
    print(
        f"wrapper/base = {statistics.median(ratios):.3f} (per-round ratios, median; target <= 1.10)"
    )
    print(f"naive/base   = {statistics.median(naive_ratios):.3f}")
    stats = wrapper.get_cache_stats()
    print(f"wrapper calls={stats['calls']} optimized={stats['optimized_calls']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.calls))
