"""Per-model behaviour on the OpenAI Chat Completions and Ollama stand-ins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from llmopt.sandbox import FaultRule, ManualClock, SandboxServer, running_sandbox

from .conftest import send

GPT = "gpt-5.4-mini"
HELLO: Any = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def instant() -> ManualClock:
    return ManualClock(instant_waits=True)


@pytest.fixture
def timed(instant: ManualClock) -> Iterator[SandboxServer]:
    with running_sandbox(clock=instant) as server:
        yield server


@pytest.fixture
def gpt(timed: SandboxServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=timed.base_url + "/v1", api_key=timed.api_key, max_retries=0
    ) as client:
        yield client


def test_an_openai_model_s_outage_and_rate_limit_reach_the_openai_sdk(
    timed: SandboxServer, gpt: openai.OpenAI, instant: ManualClock
) -> None:
    timed.set_model_behaviour(
        {GPT: [FaultRule.outage_between(10, 20), FaultRule.rate_limited(1, per_seconds=60)]}
    )

    first = gpt.chat.completions.create(model=GPT, messages=HELLO)
    with pytest.raises(openai.RateLimitError) as limited:
        gpt.chat.completions.create(model=GPT, messages=HELLO)
    instant.advance(10)
    with pytest.raises(openai.InternalServerError) as down:
        gpt.chat.completions.create(model=GPT, messages=HELLO)
    instant.advance(50)

    assert first.choices[0].message.content
    assert limited.value.response.headers["retry-after"] == "60"
    assert down.value.status_code == 503  # OpenAI has no 529: overloaded is 503 there
    assert gpt.chat.completions.create(model=GPT, messages=HELLO).choices


def test_an_openai_model_s_latency_and_slow_stream_show_on_the_clock(
    timed: SandboxServer, gpt: openai.OpenAI, instant: ManualClock
) -> None:
    timed.set_model_behaviour(
        {GPT: {"latency": {"p50_ms": 700, "p95_ms": 700}, "stream_chunk_delay_ms": 100}}
    )

    before = instant()
    chunks = list(gpt.chat.completions.create(model=GPT, messages=HELLO, stream=True))
    waited = instant() - before

    assert len(chunks) > 3
    # Every chunk after the first waited 100 ms; [DONE] is a chunk the SDK does not yield.
    assert waited == pytest.approx(0.7 + 0.1 * len(chunks))


def test_an_ollama_model_streams_slowly_and_goes_down_in_its_outage(
    timed: SandboxServer, instant: ManualClock
) -> None:
    model = timed.options.ollama_models[0]
    timed.set_model_behaviour(
        {model: [FaultRule.slow_stream(50), FaultRule.outage_between(60, 120)]}
    )
    body = {"model": model, "messages": HELLO}

    before = instant()
    streamed = send(timed.base_url, "/api/chat", body, api_key=None)
    waited = instant() - before
    instant.advance(60)
    down = send(timed.base_url, "/api/chat", body, api_key=None)

    lines = streamed.body.decode().strip().split("\n")
    assert streamed.status == 200 and len(lines) > 2
    assert waited == pytest.approx(0.05 * (len(lines) - 1))
    assert down.status == 503
