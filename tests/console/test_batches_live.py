"""The Batches pages and API against a real sandbox batch, moved along by a manual clock.

A batch client (the same one the Celery poller uses) submits and resumes the batch;
the console only reads the ledger and, to cancel, reaches the sandbox through the
entry's own client.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anthropic
import pytest
from django.test import Client

from llmopt.batching import AnthropicBatchClient, BatchRequest
from llmopt.sandbox import BatchOptions, FaultRule, ManualClock, SandboxServer, running_sandbox
from llmopt.store import BatchRecord, BatchStatus, Store

from .conftest import seed, user_in

pytestmark = pytest.mark.django_db
MODEL = "claude-sonnet-4-6"
ENTRY = "main"
HX = {"HTTP_HX_REQUEST": "true"}
# 30 requests, 5 at a time, a minute each: six waves over six sandbox minutes.
WAVES = BatchOptions(item_seconds=60, parallelism=5)
CANCEL = "/v1/messages/batches/{id}/cancel"


@pytest.fixture
def clock() -> ManualClock:
    # Starts at the wall-clock time the console reads, so batches submitted after the
    # clock moved on lie in the console's future: their elapsed time shows as 0.
    return ManualClock(start=time.time())


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[SandboxServer]:
    with running_sandbox(clock=clock, batches=WAVES) as server:
        yield server


@pytest.fixture
def ledger(store: Store, sandbox: SandboxServer, clock: ManualClock) -> Store:
    """The console's store, seeded with an Anthropic entry whose account is the sandbox."""
    config: dict[str, Any] = {
        "model": MODEL,
        "apiKey": sandbox.api_key,
        "baseUrl": sandbox.base_url,
        "maxRetries": 0,
    }
    seed(store, {"llm": [{"provider": "anthropic", "modelKey": ENTRY, "configuration": config}]})
    return store


def _worker(
    sdk: anthropic.AsyncAnthropic, store: Store, clock: ManualClock
) -> AnthropicBatchClient:
    return AnthropicBatchClient(
        sdk,
        store,
        entry_key=ENTRY,
        model=MODEL,
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
        claim_ttl=1,
    )


def _with_worker(store: Store, sandbox: SandboxServer, clock: ManualClock, job: Any) -> Any:
    async def run() -> Any:
        sdk = anthropic.AsyncAnthropic(
            base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0
        )
        try:
            return await job(_worker(sdk, store, clock))
        finally:
            await sdk.close()

    return asyncio.run(run())


def submit(
    store: Store, sandbox: SandboxServer, clock: ManualClock, topic: str = "question"
) -> BatchRecord:
    """Thirty new requests in one batch (answers are reused, so ``topic`` keeps them new)."""
    requests = [
        BatchRequest({"max_tokens": 16, "messages": [{"role": "user", "content": f"{topic} {n}"}]})
        for n in range(30)
    ]
    [record] = _with_worker(store, sandbox, clock, lambda worker: worker.submit(requests))
    return record


def poll(store: Store, sandbox: SandboxServer, clock: ManualClock, seconds: float) -> None:
    """Let sandbox time pass, then run one poller pass (what the beat task does)."""
    clock.advance(seconds)
    _with_worker(store, sandbox, clock, lambda worker: worker.resume())


def shown_progress(html: str, batch_id: str) -> tuple[int, int]:
    row = html[html.index(f'id="batch-{batch_id}"') :] if f'id="batch-{batch_id}"' in html else html
    match = re.search(r"(\d+) / (\d+) \(\d+%\)", row)
    assert match, html
    return int(match[1]), int(match[2])


def test_the_list_fragment_follows_the_batch_slows_at_the_end_and_shows_the_next_one(
    signed_in: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)

    page = signed_in.get("/batches/")
    assert page.status_code == 200
    assert 'hx-trigger="every 2s' in page.content.decode()
    seen = []
    for seconds in (130, 400):
        poll(ledger, sandbox, clock, seconds)
        fragment = signed_in.get("/batches/", **HX)
        html = fragment.content.decode()
        assert 'id="batch-table"' in html and "<html" not in html
        status = re.search(r'class="batch-status [a-z_]+">([a-z_]+)<', html)
        assert status
        seen.append((fragment.status_code, status[1], shown_progress(html, record.id)))

    # Anthropic keeps every request "processing" until the whole batch has ended.
    assert seen == [(200, "in_progress", (0, 30)), (200, "ended", (30, 30))]
    # Ended: the fast poll stops; the first page still watches for new batches, slowly.
    assert "every 2s" not in html and "every 15s" in html
    assert "$0.0" in html  # the cost, once collected

    second = submit(ledger, sandbox, clock, "another question")
    fragment = signed_in.get("/batches/", **HX)
    html = fragment.content.decode()
    assert fragment.status_code == 200 and f'id="batch-{second.id}"' in html
    assert "every 2s" in html  # something in flight again: back to the fast poll


def test_a_new_batch_gets_an_eta_from_the_pace_of_the_entrys_last_ones(
    signed_in: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    first = submit(ledger, sandbox, clock)
    poll(ledger, sandbox, clock, 400)
    assert ledger.get_batch(first.id).status is BatchStatus.ENDED
    second = submit(ledger, sandbox, clock, "another question")
    html = signed_in.get("/batches/").content.decode()
    row = html[html.index(f'id="batch-{second.id}"') :]
    cells = re.findall(r"<td>([^<]*)</td>", row)
    # Elapsed 0, ETA: the first batch's 30 requests took six minutes.
    assert cells[0:2] == ["0s", "6m 00s"]


def test_the_detail_fragment_is_live_until_the_batch_ends(
    signed_in: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    poll(ledger, sandbox, clock, 130)

    page = signed_in.get(f"/batches/{record.id}/")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="batch-live"' in html and "hx-trigger" in html
    assert re.search(r'id="count-processing">30<', html)
    assert 'id="cancel-form"' not in html  # viewers see no cancel button

    poll(ledger, sandbox, clock, 400)
    fragment = signed_in.get(f"/batches/{record.id}/", **HX)
    assert fragment.status_code == 286
    assert re.search(r'id="count-succeeded">30<', fragment.content.decode())


def test_an_operator_cancels_from_the_page_and_the_sandbox_cancels_the_rest(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    poll(ledger, sandbox, clock, 70)
    page = operator.get(f"/batches/{record.id}/").content.decode()
    assert 'id="cancel-form"' in page and "confirm(" in page

    response = operator.post(f"/batches/{record.id}/cancel/", {"reason": "wrong prompts"})

    assert response.status_code == 302 and response["Location"] == f"/batches/{record.id}/"
    assert sandbox.batch_calls().get("cancel") == 1
    assert ledger.get_batch(record.id).status is BatchStatus.CANCELING
    [audit] = ledger.list_audit(action="batch.cancel")
    assert (audit.actor, audit.target, audit.reason) == ("operator", record.id, "wrong prompts")
    assert (audit.before, audit.after) == ({"status": "in_progress"}, {"status": "canceling"})

    poll(ledger, sandbox, clock, 400)
    ended = ledger.get_batch(record.id)
    assert ended.status is BatchStatus.ENDED
    assert ended.request_counts["canceled"] > 0 and ended.request_counts["succeeded"] >= 5
    again = operator.post(f"/batches/{record.id}/cancel/")
    assert again.status_code == 409 and "already ended" in again.content.decode()
    assert sandbox.batch_calls().get("cancel") == 1
    assert len(ledger.list_audit(action="batch.cancel")) == 1


def test_the_api_cancels_audits_and_refuses_a_second_time(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)

    response = operator.post(
        f"/api/batches/{record.id}/cancel", {"reason": "load test"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "canceling"
    assert ledger.list_audit(action="batch.cancel")[0].reason == "load test"
    again = operator.post(f"/api/batches/{record.id}/cancel", content_type="application/json")
    assert again.status_code == 409 and "already being cancelled" in again.json()["detail"]
    poll(ledger, sandbox, clock, 400)
    detail = operator.get(f"/api/batches/{record.id}").json()
    # The wave in flight (five) finishes; the other 25 are canceled.
    assert detail["status"] == "ended"
    assert (detail["request_counts"]["succeeded"], detail["request_counts"]["canceled"]) == (5, 25)
    ended = operator.post(f"/api/batches/{record.id}/cancel", content_type="application/json")
    assert ended.status_code == 409 and "already ended" in ended.json()["detail"]
    unknown = operator.post("/api/batches/nope/cancel", content_type="application/json")
    assert unknown.status_code == 404 and unknown.json()["detail"]
    assert len(ledger.list_audit(action="batch.cancel")) == 1


def test_a_provider_refusal_is_a_502_with_a_clear_message_and_changes_nothing(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    sandbox.add_fault(FaultRule.fail_next(1, "server_error", paths=(CANCEL,)))

    response = operator.post(f"/api/batches/{record.id}/cancel", content_type="application/json")

    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "provider did not cancel" in detail and sandbox.api_key not in detail
    assert ledger.get_batch(record.id).status is BatchStatus.IN_PROGRESS
    assert ledger.list_audit(action="batch.cancel") == []
    page = operator.post(f"/batches/{record.id}/cancel/")  # the fault was used up: this works
    assert page.status_code == 302


def test_viewers_cannot_cancel_and_anonymous_callers_are_sent_to_sign_in(
    client: Client,
    django_user_model: Any,
    ledger: Store,
    sandbox: SandboxServer,
    clock: ManualClock,
) -> None:
    record = submit(ledger, sandbox, clock)
    assert client.post(f"/batches/{record.id}/cancel/")["Location"].startswith("/login/")
    assert client.post(f"/api/batches/{record.id}/cancel").status_code == 401
    client.force_login(user_in(django_user_model, "viewer"))
    assert client.post(f"/batches/{record.id}/cancel/").status_code == 403
    assert client.post(f"/api/batches/{record.id}/cancel").status_code == 403
    assert sandbox.batch_calls().get("cancel") is None
    assert ledger.get_batch(record.id).status is BatchStatus.IN_PROGRESS


def test_cancel_needs_the_csrf_token(
    django_user_model: Any, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user_in(django_user_model, "operator"))

    assert browser.post(f"/batches/{record.id}/cancel/").status_code == 403
    assert browser.post(f"/api/batches/{record.id}/cancel").status_code == 403
    assert sandbox.batch_calls().get("cancel") is None

    page = browser.get(f"/batches/{record.id}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    response = browser.post(f"/batches/{record.id}/cancel/", {"csrfmiddlewaretoken": token[1]})
    assert response.status_code == 302 and sandbox.batch_calls().get("cancel") == 1
