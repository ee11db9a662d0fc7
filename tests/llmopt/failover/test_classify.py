from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import httpx2
import ollama
import openai
import pytest
from langchain_core.exceptions import ModelRefusalError
from langchain_core.messages import AIMessage

from llmopt.errors import ProviderError
from llmopt.failover import ErrorClass, classify_error, classify_response, retry_after_of
from llmopt.sandbox import FaultPlan, FaultRule, SandboxServer, running_sandbox

MODEL = "claude-sonnet-4-6"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with running_sandbox(api_keys=["test-key"]) as started:
        yield started


def anthropic_error(
    server: SandboxServer, *, fault: FaultRule | None = None, **call: Any
) -> Exception:
    """What the real anthropic SDK raises against the sandbox (no retries)."""
    server.set_faults(FaultPlan(rules=[] if fault is None else [fault]))
    options = {"api_key": server.api_key, "timeout": 5.0, **call.pop("client", {})}
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hello"}],
        **call,
    }
    with anthropic.Anthropic(
        base_url=options.pop("base_url", server.base_url), max_retries=0, **options
    ) as client:
        try:
            client.messages.create(**body)
        except Exception as exc:
            return exc
        finally:
            server.set_faults(FaultPlan())
    raise AssertionError("the call answered")


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


ANTHROPIC_CASES: list[tuple[str, Callable[[SandboxServer], Exception], ErrorClass]] = [
    (
        "429",
        lambda s: anthropic_error(s, fault=FaultRule.fail_next(1, "rate_limit")),
        ErrorClass.RATE_LIMIT,
    ),
    (
        "529",
        lambda s: anthropic_error(s, fault=FaultRule.fail_next(1, "overloaded")),
        ErrorClass.OVERLOAD,
    ),
    (
        "500",
        lambda s: anthropic_error(s, fault=FaultRule.fail_next(1, "server_error")),
        ErrorClass.SERVER_ERROR,
    ),
    ("400", lambda s: anthropic_error(s, max_tokens=0), ErrorClass.INVALID_REQUEST),
    (
        "401",
        lambda s: anthropic_error(s, client={"api_key": "wrong-key"}),
        ErrorClass.AUTHENTICATION,
    ),
    (
        "timeout",
        lambda s: anthropic_error(s, fault=FaultRule.delay(1_500), client={"timeout": 0.2}),
        ErrorClass.TIMEOUT,
    ),
    (
        "connection refused",
        lambda s: anthropic_error(s, client={"base_url": closed_port()}),
        ErrorClass.SERVER_ERROR,
    ),
]


@pytest.mark.parametrize(
    ("make", "expected"),
    [pytest.param(make, expected, id=name) for name, make, expected in ANTHROPIC_CASES],
)
def test_it_classifies_what_the_anthropic_sdk_raises_against_the_sandbox(
    server: SandboxServer, make: Callable[[SandboxServer], Exception], expected: ErrorClass
) -> None:
    assert classify_error(make(server)) is expected


def test_it_looks_through_langchain_wrapping_to_the_providers_own_error(
    server: SandboxServer,
) -> None:
    original = anthropic_error(server, fault=FaultRule.fail_next(1, "overloaded"))
    try:
        raise ValueError("the chat model failed") from original
    except ValueError as wrapped:
        assert classify_error(wrapped) is ErrorClass.OVERLOAD


def test_it_reads_retry_after_from_a_rate_limited_answer(server: SandboxServer) -> None:
    error = anthropic_error(server, fault=FaultRule.fail_next(1, "rate_limit", retry_after=7))
    assert retry_after_of(error) == 7.0


def openai_error(status: int, cls: type[openai.APIStatusError]) -> openai.APIStatusError:
    """Built as openai's client builds it (``_make_status_error``), on an httpx2 response."""
    request = httpx2.Request("POST", "http://sandbox/v1/chat/completions")
    response = httpx2.Response(status, request=request, json={"error": {"message": "no"}})
    return cls("no", response=response, body={"message": "no"})


def openai_timeout() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=httpx2.Request("POST", "http://sandbox/v1"))


def openai_connection() -> openai.APIConnectionError:
    return openai.APIConnectionError(request=httpx2.Request("POST", "http://sandbox/v1"))


OTHER_CASES: list[tuple[str, Callable[[], BaseException], ErrorClass]] = [
    ("openai 429", lambda: openai_error(429, openai.RateLimitError), ErrorClass.RATE_LIMIT),
    ("openai 503", lambda: openai_error(503, openai.InternalServerError), ErrorClass.OVERLOAD),
    ("openai 500", lambda: openai_error(500, openai.InternalServerError), ErrorClass.SERVER_ERROR),
    ("openai 400", lambda: openai_error(400, openai.BadRequestError), ErrorClass.INVALID_REQUEST),
    (
        "openai 401",
        lambda: openai_error(401, openai.AuthenticationError),
        ErrorClass.AUTHENTICATION,
    ),
    (
        "openai 403",
        lambda: openai_error(403, openai.PermissionDeniedError),
        ErrorClass.AUTHENTICATION,
    ),
    ("openai timeout", openai_timeout, ErrorClass.TIMEOUT),
    ("openai connection", openai_connection, ErrorClass.SERVER_ERROR),
    ("ollama 429", lambda: ollama.ResponseError("busy", 429), ErrorClass.RATE_LIMIT),
    (
        "ollama 404",
        lambda: ollama.ResponseError("model 'x' not found", 404),
        ErrorClass.INVALID_REQUEST,
    ),
    ("ollama 500", lambda: ollama.ResponseError("boom", 500), ErrorClass.SERVER_ERROR),
    ("ollama mid-stream error", lambda: ollama.ResponseError("boom"), ErrorClass.SERVER_ERROR),
    (
        "ollama unreachable",
        lambda: ConnectionError("Failed to connect to Ollama"),
        ErrorClass.SERVER_ERROR,
    ),
    ("httpx read timeout", lambda: httpx.ReadTimeout("slow"), ErrorClass.TIMEOUT),
    ("httpx2 connect timeout", lambda: httpx2.ConnectTimeout("slow"), ErrorClass.TIMEOUT),
    ("httpx connect error", lambda: httpx.ConnectError("refused"), ErrorClass.SERVER_ERROR),
    ("builtin timeout", lambda: TimeoutError(), ErrorClass.TIMEOUT),
    (
        "provider error 429",
        lambda: ProviderError("x", retryable=True, status_code=429),
        ErrorClass.RATE_LIMIT,
    ),
    (
        "provider error retryable",
        lambda: ProviderError("x", retryable=True),
        ErrorClass.SERVER_ERROR,
    ),
    (
        "provider error final",
        lambda: ProviderError("x", retryable=False),
        ErrorClass.INVALID_REQUEST,
    ),
    ("langchain refusal", lambda: ModelRefusalError("I can't"), ErrorClass.CONTENT_REFUSAL),
    ("a bug in our code", lambda: TypeError("bad argument"), ErrorClass.UNKNOWN),
]


@pytest.mark.parametrize(
    ("make", "expected"),
    [pytest.param(make, expected, id=name) for name, make, expected in OTHER_CASES],
)
def test_it_classifies_openai_ollama_httpx_and_its_own_errors(
    make: Callable[[], BaseException], expected: ErrorClass
) -> None:
    assert classify_error(make()) is expected


def test_a_user_class_named_like_a_timeout_is_not_taken_for_one() -> None:
    class QueryTimeoutPolicy(Exception):
        pass

    assert classify_error(QueryTimeoutPolicy()) is ErrorClass.UNKNOWN


@pytest.mark.parametrize(
    ("error_class", "retryable", "fails_over", "counts"),
    [
        (ErrorClass.RATE_LIMIT, True, True, True),
        (ErrorClass.OVERLOAD, True, True, True),
        (ErrorClass.TIMEOUT, True, True, True),
        (ErrorClass.SERVER_ERROR, True, True, True),
        (ErrorClass.INVALID_REQUEST, False, False, False),
        (ErrorClass.AUTHENTICATION, False, True, True),
        (ErrorClass.CONTENT_REFUSAL, False, True, False),
        (ErrorClass.UNKNOWN, False, True, False),
    ],
)
def test_each_class_says_whether_it_is_retried_fails_over_and_counts(
    error_class: ErrorClass, retryable: bool, fails_over: bool, counts: bool
) -> None:
    assert (error_class.retryable, error_class.fails_over, error_class.counts_toward_circuit) == (
        retryable,
        fails_over,
        counts,
    )


@pytest.mark.parametrize(
    "message",
    [
        AIMessage("", response_metadata={"finish_reason": "content_filter"}),
        AIMessage("", response_metadata={"stop_reason": "refusal"}),
        AIMessage("", additional_kwargs={"refusal": "I can't help with that"}),
        AIMessage([{"type": "refusal", "refusal": "no"}]),
    ],
)
def test_it_recognises_refusal_answers(message: AIMessage) -> None:
    assert classify_response(message) is ErrorClass.CONTENT_REFUSAL


def test_an_ordinary_answer_is_no_refusal() -> None:
    message = AIMessage(
        "Hi", response_metadata={"stop_reason": "end_turn", "finish_reason": "stop"}
    )
    assert classify_response(message) is None
