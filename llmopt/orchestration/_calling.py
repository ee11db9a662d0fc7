"""Calling one entry and pricing its answer, synchronously in threads or on the loop.

Each call is timed on the orchestrator's timer and priced from the answer's own
``usage_metadata``, so what a strategy reports is what the provider billed. Errors are
kept, not raised: a strategy over several models must survive one model failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from decimal import Decimal
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from llmopt.orchestration._records import CallRecord
from llmopt.providers import TokenUsage, cost_of
from llmopt.wrapper._model_classes import provider_of

Timer = Callable[[], float]


def model_identity(model: Any) -> tuple[str | None, str]:
    """The provider and model name a chat model bills under.

    An ``OptimizedLLMWrapper`` says both (``provider``, ``model_name``); any other
    LangChain model is placed by its class (:func:`provider_of`) and its ``model`` or
    ``model_name`` field.
    """
    while isinstance(getattr(model, "bound", None), Runnable):
        model = model.bound  # bound tools or call options: the model underneath bills
    provider = getattr(model, "provider", None)
    if not isinstance(provider, str) or not provider:
        provider = provider_of(model)
    name = getattr(model, "model", None) or getattr(model, "model_name", None)
    return provider, str(name or "")


def price_answer(model: Any, answer: AIMessage) -> tuple[Decimal | None, int | None, int | None]:
    """The answer's cost (``None`` when unknown) and its input and output tokens."""
    usage = answer.usage_metadata
    if not usage:
        return None, None, None
    provider, name = model_identity(model)
    # The model the provider says answered is the one it billed (an alias resolves).
    answered_by = answer.response_metadata.get("model_name") or answer.response_metadata.get(
        "model"
    )
    name = str(answered_by or name)
    tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
    if provider is None or not name:
        return None, tokens_in, tokens_out
    priced = cost_of(TokenUsage.from_langchain(usage), provider=provider, model=name)
    return (priced.total if priced is not None else None), tokens_in, tokens_out


def _record(
    entry: str, model: Any, answer: Any, latency: float, *, role: str = "answer"
) -> CallRecord:
    if not isinstance(answer, AIMessage):
        return CallRecord(
            entry, latency, error=f"unexpected answer type {type(answer).__name__}", role=role
        )
    cost, tokens_in, tokens_out = price_answer(model, answer)
    return CallRecord(
        entry,
        latency,
        answer=answer,
        cost=cost,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        role=role,
    )


def _failed(entry: str, exc: BaseException, latency: float, *, role: str) -> CallRecord:
    return CallRecord(entry, latency, error=f"{type(exc).__name__}: {exc}", role=role)


def _timed_out(entry: str, timeout: float, *, role: str) -> CallRecord:
    return CallRecord(
        entry, timeout, error=f"no answer within {timeout:g} s", timed_out=True, role=role
    )


def call_one(
    entry: str,
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    timer: Timer,
    *,
    role: str = "answer",
) -> CallRecord:
    """Call ``model`` once on this thread; never raises for the model's own failure."""
    started = timer()
    try:
        answer = model.invoke(list(messages))
    except Exception as exc:
        return _failed(entry, exc, timer() - started, role=role)
    return _record(entry, model, answer, timer() - started, role=role)


async def acall_one(
    entry: str,
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    timer: Timer,
    *,
    timeout: float | None,
    role: str = "answer",
) -> CallRecord:
    """Call ``model`` once on the running loop, abandoned after ``timeout`` seconds."""
    started = timer()
    try:
        answer = await asyncio.wait_for(model.ainvoke(list(messages)), timeout)
    except TimeoutError:
        return _timed_out(entry, timeout or 0.0, role=role)
    except Exception as exc:
        return _failed(entry, exc, timer() - started, role=role)
    return _record(entry, model, answer, timer() - started, role=role)


def call_all(
    calls: Sequence[tuple[str, BaseChatModel]],
    messages: Sequence[BaseMessage],
    timer: Timer,
    *,
    timeout: float | None,
    role: str = "answer",
) -> list[CallRecord]:
    """Call every model at once, one thread each; calls not done after ``timeout``
    seconds are recorded as timed out and left to finish in the background (a
    synchronous model call cannot be interrupted)."""
    if not calls:
        return []
    pool = ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="llmopt-orchestration")
    try:
        futures: list[Future[CallRecord]] = [
            pool.submit(call_one, entry, model, messages, timer, role=role)
            for entry, model in calls
        ]
        wait_for_futures(futures, timeout=timeout)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [
        future.result() if future.done() else _timed_out(entry, timeout or 0.0, role=role)
        for (entry, _), future in zip(calls, futures, strict=True)
    ]


async def acall_all(
    calls: Sequence[tuple[str, BaseChatModel]],
    messages: Sequence[BaseMessage],
    timer: Timer,
    *,
    timeout: float | None,
    role: str = "answer",
) -> list[CallRecord]:
    """Call every model at once on the running loop, each with its own timeout."""
    return list(
        await asyncio.gather(
            *(
                acall_one(entry, model, messages, timer, timeout=timeout, role=role)
                for entry, model in calls
            )
        )
    )
