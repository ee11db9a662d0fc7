from __future__ import annotations

import random

import httpx
import ollama
import pytest

from llmopt.failover import Backoff, aretry_with_backoff, retry_with_backoff


class Flaky:
    """Fails with ``errors`` in turn, then answers "ok"; counts its calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def rate_limited(retry_after: str) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://ollama/api/chat")
    response = httpx.Response(429, request=request, headers={"retry-after": retry_after})
    return httpx.HTTPStatusError("429", request=request, response=response)


def test_delays_grow_exponentially_with_full_jitter_from_the_injected_rng() -> None:
    sleeps: list[float] = []
    call = Flaky(*(ollama.ResponseError("busy", 503) for _ in range(4)))

    assert (
        retry_with_backoff(call, max_retries=4, sleep=sleeps.append, rng=random.Random(7)) == "ok"
    )

    expected_rng = random.Random(7)
    assert sleeps == [expected_rng.uniform(0, cap) for cap in (0.5, 1.0, 2.0, 4.0)]
    assert call.calls == 5


def test_the_delay_is_capped() -> None:
    backoff = Backoff(base=0.5, cap=8.0)
    draws = [backoff.delay(10, retry_after=None, rng=random.Random(i)) for i in range(50)]
    assert all(d is not None and 0 <= d <= 8.0 for d in draws)


def test_a_retry_after_from_the_provider_is_honoured() -> None:
    sleeps: list[float] = []
    call = Flaky(rate_limited("3"))

    retry_with_backoff(call, max_retries=2, sleep=sleeps.append, rng=random.Random(0))

    assert sleeps == [3.0]


def test_a_retry_after_longer_than_two_minutes_means_no_retry() -> None:
    call = Flaky(rate_limited("600"))

    with pytest.raises(httpx.HTTPStatusError):
        retry_with_backoff(call, max_retries=2, sleep=lambda _: None)
    assert call.calls == 1


def test_an_invalid_request_is_never_retried() -> None:
    call = Flaky(ollama.ResponseError("model is required", 400))

    with pytest.raises(ollama.ResponseError):
        retry_with_backoff(call, max_retries=5, sleep=lambda _: None)
    assert call.calls == 1


def test_the_last_error_is_raised_when_the_retries_run_out() -> None:
    call = Flaky(*(ConnectionError(f"down {i}") for i in range(3)))

    with pytest.raises(ConnectionError, match="down 2"):
        retry_with_backoff(call, max_retries=2, sleep=lambda _: None)
    assert call.calls == 3


async def test_the_async_loop_awaits_the_injected_sleep() -> None:
    sleeps: list[float] = []
    call = Flaky(TimeoutError())

    async def work() -> str:
        return call()

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    assert await aretry_with_backoff(work, max_retries=1, sleep=sleep, rng=random.Random(1)) == "ok"
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5
