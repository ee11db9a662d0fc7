from __future__ import annotations

import time

import anthropic
import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from llmopt.errors import NoHealthyEntry
from llmopt.failover import METADATA_KEY, ErrorClass, FailoverHandler
from llmopt.sandbox import FaultPlan, FaultRule, SandboxServer
from llmopt.store import SQLiteStore

from .conftest import MODEL, Clock, chat, make_board

QUESTION = [HumanMessage("What is the capital of France?")]


def overloaded(server: SandboxServer) -> SandboxServer:
    server.set_faults(FaultPlan(rules=[FaultRule(error="overloaded")]))
    return server


def test_the_answer_comes_from_the_healthy_entry_when_the_first_fails(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    handler = FailoverHandler(
        [("main", chat(overloaded(sandbox))), ("backup", chat(backup_sandbox))], board=board
    )

    answer = handler.invoke(QUESTION)

    report = answer.response_metadata[METADATA_KEY]
    assert report["entry"] == "backup"
    assert [(a["entry"], a["outcome"], a["error_class"]) for a in report["attempts"]] == [
        ("main", "failed", "overload")
    ]
    assert 0 <= report["failover_seconds"] < 2.0
    board.refresh()
    [incident] = store.list_incidents(kinds=["failover"])
    assert (incident.entry_key, incident.to_entry, incident.error_class) == (
        "main",
        "backup",
        "overload",
    )


def test_an_entry_with_a_ready_backup_is_called_once_without_its_clients_retries(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    main = chat(overloaded(sandbox), max_retries=2)  # the SDK would back off ~2 s
    quick = chat(sandbox)
    handler = FailoverHandler(
        [("main", main), ("backup", chat(backup_sandbox, max_retries=2))],
        board=board,
        without_retries={"main": quick}.get,
    )

    answer = handler.invoke(QUESTION)

    assert answer.response_metadata[METADATA_KEY]["entry"] == "backup"
    assert sandbox.billing().models[MODEL].requests_errored == 1


def test_the_last_chance_keeps_its_clients_retries(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    board.force("backup", "open", actor="test", reason="drill")
    main = chat(overloaded(sandbox), max_retries=1)
    handler = FailoverHandler(
        [("main", main), ("backup", chat(backup_sandbox))],
        board=board,
        without_retries={"main": chat(sandbox)}.get,
    )

    with pytest.raises(NoHealthyEntry):
        handler.invoke(QUESTION)

    assert sandbox.billing().models[MODEL].requests_errored == 2  # the call and its retry


def test_a_first_try_answer_says_so(sandbox: SandboxServer) -> None:
    answer = FailoverHandler([("main", chat(sandbox))]).invoke(QUESTION)

    report = answer.response_metadata[METADATA_KEY]
    assert (report["entry"], report["attempts"], report["failover_seconds"]) == ("main", [], None)


def test_an_invalid_request_raises_the_original_error_without_failing_over(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    handler = FailoverHandler(
        [("main", chat(sandbox, max_tokens=0)), ("backup", chat(backup_sandbox))], board=board
    )

    with pytest.raises(anthropic.BadRequestError):
        handler.invoke(QUESTION)

    assert backup_sandbox.billing().total.requests_succeeded == 0
    assert board.allow("main")


def test_the_circuit_opens_and_then_the_failing_entry_is_not_called_at_all(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    main = chat(overloaded(sandbox))
    handler = FailoverHandler([("main", main), ("backup", chat(backup_sandbox))], board=board)

    for _ in range(3):
        handler.invoke(QUESTION)
    errored = sandbox.billing().total.requests_errored
    sandbox.set_faults(FaultPlan(rules=[FaultRule(error="server_error", marker="never")]))
    answer = handler.invoke(QUESTION)

    report = answer.response_metadata[METADATA_KEY]
    assert report["entry"] == "backup"
    assert report["attempts"][0]["outcome"] == "skipped"
    assert "circuit open" in report["attempts"][0]["detail"]
    assert errored == 3
    assert sandbox.billing().total.requests_errored == 3  # main was not called again


def test_no_healthy_entry_is_raised_fast_when_every_circuit_is_open(
    sandbox: SandboxServer, store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    board.force("main", "open", actor="ops")
    board.force("backup", "open", actor="ops")
    handler = FailoverHandler([("main", chat(sandbox)), ("backup", chat(sandbox))], board=board)

    started = time.perf_counter()
    with pytest.raises(NoHealthyEntry) as raised:
        handler.invoke(QUESTION)

    assert time.perf_counter() - started < 0.05
    assert [key for key, _ in raised.value.tried] == ["main", "backup"]
    assert all("forced open" in why for _, why in raised.value.tried)
    assert raised.value.retryable


def test_the_stored_response_answers_when_nothing_else_can(
    sandbox: SandboxServer, store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    seen = []

    def stored(messages: object) -> AIMessage | None:
        seen.append(messages)
        return AIMessage("Paris (from the cache)")

    handler = FailoverHandler(
        [("main", chat(overloaded(sandbox)))], board=board, stored_response=stored
    )

    answer = handler.invoke(QUESTION)

    assert answer.content == "Paris (from the cache)"
    report = answer.response_metadata[METADATA_KEY]
    assert report["stored_response"] is True and report["entry"] is None
    assert seen == [QUESTION]


def test_when_every_entry_fails_the_error_says_why_for_each(
    sandbox: SandboxServer, backup_sandbox: SandboxServer
) -> None:
    handler = FailoverHandler(
        [("main", chat(overloaded(sandbox))), ("backup", chat(overloaded(backup_sandbox)))]
    )

    with pytest.raises(NoHealthyEntry) as raised:
        handler.invoke(QUESTION)

    assert [key for key, _ in raised.value.tried] == ["main", "backup"]
    assert all(why.startswith("failed (overload)") for _, why in raised.value.tried)
    assert isinstance(raised.value.__cause__, anthropic.APIStatusError)


def test_a_stream_fails_over_before_its_first_chunk(
    sandbox: SandboxServer, backup_sandbox: SandboxServer
) -> None:
    handler = FailoverHandler(
        [("main", chat(overloaded(sandbox))), ("backup", chat(backup_sandbox))]
    )

    chunks = list(handler.stream(QUESTION))

    assert chunks[0].response_metadata[METADATA_KEY]["entry"] == "backup"
    assert "".join(str(c.content) for c in chunks if isinstance(c.content, str))


async def test_the_async_calls_fail_over_too(
    sandbox: SandboxServer, backup_sandbox: SandboxServer
) -> None:
    handler = FailoverHandler(
        [("main", chat(overloaded(sandbox))), ("backup", chat(backup_sandbox))]
    )

    answer = await handler.ainvoke(QUESTION)
    chunks = [chunk async for chunk in handler.astream(QUESTION)]

    assert answer.response_metadata[METADATA_KEY]["entry"] == "backup"
    assert chunks[0].response_metadata[METADATA_KEY]["entry"] == "backup"


def test_a_refusal_fails_over_but_never_counts_toward_the_circuit(
    store: SQLiteStore, clock: Clock
) -> None:
    refusing = GenericFakeChatModel(
        messages=iter([AIMessage("", response_metadata={"stop_reason": "refusal"})] * 5)
    )
    answering = GenericFakeChatModel(messages=iter([AIMessage("Sure.")] * 5))
    board = make_board(store, clock, "a")
    handler = FailoverHandler([("strict", refusing), ("lenient", answering)], board=board)

    for _ in range(4):
        answer = handler.invoke(QUESTION)
        assert answer.response_metadata[METADATA_KEY]["entry"] == "lenient"

    assert board.allow("strict")


def test_models_without_retries_of_their_own_are_retried_with_backoff() -> None:
    class Flaky(GenericFakeChatModel):
        failures_left: int = 2

        def _generate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self.failures_left:
                self.failures_left -= 1
                raise ConnectionError("Failed to connect to Ollama")
            return super()._generate(*args, **kwargs)

    sleeps: list[float] = []
    model = Flaky(messages=iter([AIMessage("ok")]))
    handler = FailoverHandler([("local", model)], max_retries=2, sleep=sleeps.append)

    assert handler.invoke(QUESTION).content == "ok"
    assert len(sleeps) == 2


def test_the_design_documents_names(
    sandbox: SandboxServer, backup_sandbox: SandboxServer, store: SQLiteStore, clock: Clock
) -> None:
    board = make_board(store, clock, "a")
    main = chat(sandbox)
    backup = chat(backup_sandbox)
    handler = FailoverHandler([("main", main), ("backup", backup)], board=board)
    request = httpx.Request("POST", "http://sandbox/v1/messages")
    error = anthropic.InternalServerError(
        "overloaded", response=httpx.Response(529, request=request), body=None
    )

    answer = handler.handle_failure(main, error, messages=QUESTION)
    assert answer.response_metadata[METADATA_KEY]["entry"] == "backup"
    assert handler.trigger_fallback("main") == ("backup", backup)
    assert handler.circuit_breaker_status(main).state == "closed"
    assert handler.retry_with_backoff(backup, QUESTION, 1).content
    assert handler.report_incident({"entry_key": "main", "kind": "manual", "detail": "drill"})
    assert store.list_incidents(kinds=["manual"])[0].detail == "drill"
    assert ErrorClass.OVERLOAD.fails_over


def test_an_error_after_the_first_chunk_propagates_without_failover() -> None:
    class BreaksMidStream(GenericFakeChatModel):
        def _stream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            stream = super()._stream(*args, **kwargs)
            yield next(stream)
            raise ConnectionError("connection reset mid-stream")

    broken = BreaksMidStream(messages=iter([AIMessage("one two three")]))
    backup = GenericFakeChatModel(messages=iter([AIMessage("never")]))
    handler = FailoverHandler([("main", broken), ("backup", backup)])

    received = []
    with pytest.raises(ConnectionError):
        for chunk in handler.stream(QUESTION):
            received.append(chunk)

    assert len(received) == 1
    assert received[0].response_metadata[METADATA_KEY]["entry"] == "main"
