"""The Batches pages and API against a real sandbox batch, moved along by a manual clock.

A batch client (the same one the Celery poller uses) submits and resumes the batch;
the console only reads the ledger and, to cancel, records the cancel there and reaches
the sandbox through the entry's own client, in the background.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anthropic
import pytest
from django.test import Client

from console.batches.cancel import PROVIDER_CALLS
from llmopt import BatchCanceled
from llmopt.batching import AnthropicBatchClient, BatchOutcome, BatchRequest
from llmopt.sandbox import BatchOptions, FaultRule, ManualClock, SandboxServer, running_sandbox
from llmopt.store import BatchRecord, BatchStatus, Store

from ...waiting import wait_until
from ..conftest import seed, user_in

pytestmark = pytest.mark.django_db
MODEL = "claude-sonnet-4-6"
ENTRY = "main"
HX = {"HTTP_HX_REQUEST": "true"}
# 30 requests, 5 at a time, a minute each: six waves over six sandbox minutes.
WAVES = BatchOptions(item_seconds=60, parallelism=5)
CANCEL = "/v1/messages/batches/{id}/cancel"


@pytest.fixture(autouse=True)
def provider_calls_end(store: Store) -> Iterator[None]:
    """A cancel asks the provider on a thread of its own: done before the store closes."""
    yield
    assert PROVIDER_CALLS.wait(30), "a cancel's provider call never finished"


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
    sdk: anthropic.AsyncAnthropic, store: Store, clock: ManualClock, **options: Any
) -> AnthropicBatchClient:
    return AnthropicBatchClient(
        sdk,
        store,
        entry_key=ENTRY,
        model=MODEL,
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
        claim_ttl=1,
        **options,
    )


def _with_worker(
    store: Store, sandbox: SandboxServer, clock: ManualClock, job: Any, **options: Any
) -> Any:
    async def run() -> Any:
        sdk = anthropic.AsyncAnthropic(
            base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0
        )
        try:
            return await job(_worker(sdk, store, clock, **options))
        finally:
            await sdk.close()

    return asyncio.run(run())


def thirty(topic: str = "question") -> list[BatchRequest]:
    """Thirty new requests (answers are reused, so ``topic`` keeps them new)."""
    return [
        BatchRequest({"max_tokens": 16, "messages": [{"role": "user", "content": f"{topic} {n}"}]})
        for n in range(30)
    ]


def submit(
    store: Store, sandbox: SandboxServer, clock: ManualClock, topic: str = "question"
) -> BatchRecord:
    """Thirty new requests in one batch."""
    requests = thirty(topic)
    [record] = _with_worker(store, sandbox, clock, lambda worker: worker.submit(requests))
    return record


def poll(store: Store, sandbox: SandboxServer, clock: ManualClock, seconds: float) -> None:
    """Let sandbox time pass, then run one poller pass (what the beat task does)."""
    clock.advance(seconds)
    _with_worker(store, sandbox, clock, lambda worker: worker.resume())


def shown_progress(html: str, batch_id: str) -> tuple[int, int]:
    row = html[html.index(f'id="batch-{batch_id}"') :] if f'id="batch-{batch_id}"' in html else html
    unknown = re.search(r"no estimate yet · (\d+) requests", row)
    if unknown:  # the entry's first batch: nothing reported and no pace to go by
        return 0, int(unknown[1])
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
    assert 'id="cancel-form"' in page and "data-confirm=" in page

    response = operator.post(f"/batches/{record.id}/cancel/", {"reason": "wrong prompts"})

    assert response.status_code == 302 and response["Location"] == f"/batches/{record.id}/"
    assert PROVIDER_CALLS.wait(30)
    assert sandbox.batch_calls().get("cancel") == 1
    canceling = ledger.get_batch(record.id)
    assert canceling.status is BatchStatus.CANCELING
    assert canceling.cancel is not None and canceling.cancel.by == "operator"
    [audit] = ledger.list_audit(action="batch.cancel")
    assert (audit.actor, audit.target, audit.reason) == ("operator", record.id, "wrong prompts")
    assert audit.before == {"status": "in_progress"}
    assert audit.after == {"status": "in_progress", "then": "stop"}

    poll(ledger, sandbox, clock, 400)
    ended = ledger.get_batch(record.id)
    assert ended.status is BatchStatus.ENDED
    # The wave in flight (five) finished; the other twenty were canceled.
    assert (ended.request_counts["succeeded"], ended.request_counts["canceled"]) == (10, 20)
    assert sandbox.batch_calls().get("cancel") == 1
    assert len(ledger.list_audit(action="batch.cancel")) == 1


def test_the_api_cancels_audits_and_refuses_a_second_time(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)

    response = operator.post(
        f"/api/batches/{record.id}/cancel", {"reason": "load test"}, content_type="application/json"
    )

    assert response.status_code == 202, response.content
    cancel = response.json()["cancel"]
    assert (cancel["by"], cancel["reason"], cancel["send_rest_standard"]) == (
        "operator",
        "load test",
        False,
    )
    assert ledger.list_audit(action="batch.cancel")[0].reason == "load test"
    assert PROVIDER_CALLS.wait(30)
    assert operator.get(f"/api/batches/{record.id}").json()["status"] == "canceling"
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


def test_a_provider_refusal_is_shown_with_the_cancel_and_the_next_poll_asks_again(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    sandbox.add_fault(FaultRule.fail_next(1, "server_error", paths=(CANCEL,)))

    response = operator.post(f"/api/batches/{record.id}/cancel", content_type="application/json")

    assert response.status_code == 202
    assert PROVIDER_CALLS.wait(30)
    refused = operator.get(f"/api/batches/{record.id}").json()
    assert refused["status"] == "in_progress"
    problem = refused["cancel"]["problem"]
    assert "cancelling" in problem and sandbox.api_key not in problem
    page = operator.get(f"/batches/{record.id}/").content.decode()
    assert 'id="cancel-problem"' in page and 'id="cancel-form"' not in page
    poll(ledger, sandbox, clock, 2)  # the poller asks the provider again
    retried = ledger.get_batch(record.id)
    assert retried.status is BatchStatus.CANCELING
    assert retried.cancel is not None and retried.cancel.problem is None
    assert sandbox.batch_calls().get("cancel") == 2
    assert len(ledger.list_audit(action="batch.cancel")) == 1


def test_viewers_cannot_cancel_and_anonymous_callers_are_sent_to_sign_in(
    client: Client,
    django_user_model: Any,
    ledger: Store,
    sandbox: SandboxServer,
    clock: ManualClock,
) -> None:
    record = submit(ledger, sandbox, clock)
    assert client.post(f"/batches/{record.id}/cancel/")["Location"].startswith("/login/")
    api = f"/api/batches/{record.id}/cancel"
    assert client.post(api, content_type="application/json").status_code == 401
    client.force_login(user_in(django_user_model, "viewer"))
    assert client.post(f"/batches/{record.id}/cancel/").status_code == 403
    assert client.post(api, content_type="application/json").status_code == 403
    assert sandbox.batch_calls().get("cancel") is None
    assert ledger.get_batch(record.id).status is BatchStatus.IN_PROGRESS


def test_cancel_needs_the_csrf_token(
    django_user_model: Any, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user_in(django_user_model, "operator"))

    assert browser.post(f"/batches/{record.id}/cancel/").status_code == 403
    api = f"/api/batches/{record.id}/cancel"
    assert browser.post(api, content_type="application/json").status_code == 403
    assert sandbox.batch_calls().get("cancel") is None

    page = browser.get(f"/batches/{record.id}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    response = browser.post(f"/batches/{record.id}/cancel/", {"csrfmiddlewaretoken": token[1]})
    assert response.status_code == 302 and PROVIDER_CALLS.wait(30)
    assert sandbox.batch_calls().get("cancel") == 1


def test_the_cancel_answers_within_half_a_second_while_the_provider_takes_its_time(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    second = submit(ledger, sandbox, clock, "another question")
    poll(ledger, sandbox, clock, 70)
    sandbox.add_fault(FaultRule.delay(2_000, paths=(CANCEL,)))  # a slow provider

    started = time.perf_counter()
    page = operator.post(f"/batches/{record.id}/cancel/", {"reason": "wrong prompts"})
    page_took = time.perf_counter() - started
    started = time.perf_counter()
    api = operator.post(f"/api/batches/{second.id}/cancel", content_type="application/json")
    api_took = time.perf_counter() - started

    assert (page.status_code, api.status_code) == (302, 202)
    assert page_took < 0.5 and api_took < 0.5, (page_took, api_took)
    assert api.json()["cancel"]["by"] == "operator"
    assert PROVIDER_CALLS.wait(30)
    assert ledger.get_batch(record.id).status is BatchStatus.CANCELING
    assert ledger.get_batch(second.id).status is BatchStatus.CANCELING


def test_the_page_shows_the_cancel_under_way_then_what_it_achieved(
    operator: Client,
    ledger: Store,
    sandbox: SandboxServer,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = submit(ledger, sandbox, clock)
    poll(ledger, sandbox, clock, 70)
    url = f"/batches/{record.id}/"
    # The provider is asked only once the test has seen the page meanwhile.
    release = threading.Event()
    ask = PROVIDER_CALLS.ask

    def held_back(store: Store, cancelled: BatchRecord) -> None:
        release.wait(30)
        ask(store, cancelled)

    monkeypatch.setattr(PROVIDER_CALLS, "ask", held_back)
    operator.post(f"{url}cancel/", {"reason": "wrong prompts"})
    asking = operator.get(url, **HX)
    release.set()
    assert PROVIDER_CALLS.wait(30)
    canceling = operator.get(url, **HX)
    poll(ledger, sandbox, clock, 400)
    ended = operator.get(url, **HX)

    # While the provider is asked, then while it cancels: live, no second cancel.
    for fragment, stage in ((asking, "asking the provider"), (canceling, "finishing the requests")):
        html = fragment.content.decode()
        assert fragment.status_code == 200 and stage in html, html
        assert "Cancel requested by operator" in html and "(wrong prompts)" in html
        assert "will not be answered; nothing more is billed for them" in html
        assert 'id="cancel-form"' not in html
        assert f'hx-get="{url}"' in html and "updating live" in html
    html = ended.content.decode()
    assert ended.status_code == 286  # htmx stops polling
    assert "20 canceled, 10 already done (10 answered)" in html
    assert "their callers got an error, and nothing was billed for them" in html
    assert "updating live" not in html and "hx-trigger" not in html


def test_a_refused_cancel_goes_back_to_the_batch_page_which_polls_only_itself(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    url = f"/batches/{record.id}/"
    operator.post(f"{url}cancel/")
    assert PROVIDER_CALLS.wait(30)

    again = operator.post(f"{url}cancel/")

    assert again.status_code == 302 and again["Location"] == url
    page = operator.get(url).content.decode()
    assert "Not cancelled: batch" in page and "is already being cancelled (by operator" in page
    assert 'id="cancel-form"' not in page  # canceling: nothing to press again
    assert f'hx-get="{url}"' in page and "cancel/" not in re.findall(r'hx-get="([^"]*)"', page)[0]
    poll(ledger, sandbox, clock, 400)
    ended = operator.post(f"{url}cancel/", follow=True)
    html = ended.content.decode()
    assert ended.redirect_chain == [(url, 302)] and "has already ended" in html
    assert "updating live" not in html and "hx-get" not in html
    assert sandbox.batch_calls().get("cancel") == 1
    assert len(ledger.list_audit(action="batch.cancel")) == 1


def test_the_confirmations_say_what_each_cancel_does_and_what_sending_the_rest_costs(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    first = submit(ledger, sandbox, clock)
    poll(ledger, sandbox, clock, 400)  # one ended batch of this entry prices the estimate
    cost = ledger.get_batch(first.id).cost_estimate_usd
    assert cost is not None and cost > 0
    record = submit(ledger, sandbox, clock, "another question")

    html = operator.get(f"/batches/{record.id}/").content.decode()

    confirms = dict(re.findall(r'id="(cancel[-a-z]*)"\s+data-confirm="([^"]*)"', html))
    stop, send = confirms["cancel"], confirms["cancel-send-rest"]
    assert "Up to 30 requests not yet done will not be answered" in stop
    assert "their callers get an error, and nothing more is billed for them" in stop
    # Thirty requests like the last thirty, at twice the batch price.
    assert "Up to 30 requests not yet done will be sent now at the standard price" in send
    assert f"about 2× the batch price (~${2 * cost:.4f} estimated for all 30" in send


def test_cancel_and_send_the_rest_now_is_recorded_audited_and_shown(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)

    response = operator.post(
        f"/batches/{record.id}/cancel/", {"then": "send_rest_standard", "reason": "need answers"}
    )

    assert response.status_code == 302
    cancel = ledger.get_batch(record.id).cancel
    assert cancel is not None and cancel.send_rest_standard and cancel.reason == "need answers"
    [audit] = ledger.list_audit(action="batch.cancel")
    assert audit.after == {"status": "in_progress", "then": "send_rest_standard"}
    html = operator.get(f"/batches/{record.id}/").content.decode()
    assert "The requests it stops are then sent at the standard price." in html
    api = operator.post(
        f"/api/batches/{submit(ledger, sandbox, clock, 'more').id}/cancel",
        {"send_rest_standard": True},
        content_type="application/json",
    )
    assert api.status_code == 202 and api.json()["cancel"]["send_rest_standard"] is True
    other = submit(ledger, sandbox, clock, "yet more")
    bad = operator.post(
        f"/api/batches/{other.id}/cancel",
        {"send_rest_standard": "yes"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "send_rest_standard"
    assert ledger.get_batch(other.id).cancel is None


def test_the_openapi_schema_documents_the_cancel_its_choice_and_its_answers(
    operator: Client, ledger: Store
) -> None:
    schema = operator.get("/api/openapi.json").json()
    cancel = schema["paths"]["/api/batches/{batch_id}/cancel"]["post"]
    assert set(cancel["responses"]) >= {"202", "404", "409", "422"}
    assert "200" not in cancel["responses"] and "502" not in cancel["responses"]
    assert "send_rest_standard" in cancel["description"]
    body = schema["components"]["schemas"]["CancelIn"]
    assert body["properties"]["send_rest_standard"]["type"] == "boolean"
    assert "BatchCancelOut" in schema["components"]["schemas"]


def test_the_callers_of_a_batch_cancelled_from_the_page_get_an_error_and_nothing_is_resent(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    # A backend's run waits for its batch (as the demo's traffic does), polling often.
    answers: list[BatchOutcome] = []

    def backend() -> None:
        outcomes = _with_worker(
            ledger,
            sandbox,
            clock,
            lambda worker: worker.run(thirty()),
            poll_initial=0.02,
            poll_max=0.1,
        )
        answers.extend(outcomes)

    waiting = threading.Thread(target=backend)
    waiting.start()
    try:
        wait_until(lambda: any(r.provider_batch_id for r in ledger.list_batches()))
        [record] = ledger.list_batches()
        clock.advance(70)
        operator.post(f"/batches/{record.id}/cancel/", {"reason": "wrong prompts"})
        assert PROVIDER_CALLS.wait(30)
        wait_until(lambda: ledger.get_batch(record.id).status is BatchStatus.CANCELING)
        clock.advance(400)
    finally:
        waiting.join(60)
    assert not waiting.is_alive()

    stopped = [o.error for o in answers if o.error is not None]
    assert len(stopped) == 20 and sum(o.message is not None for o in answers) == 10
    assert all(isinstance(e, BatchCanceled) and e.canceled_by == "operator" for e in stopped)
    assert all(e.batch_id == record.id and e.reason == "wrong prompts" for e in stopped)
    billed = sandbox.billing().total
    assert (billed.batch_requests_succeeded, billed.requests_succeeded) == (10, 10)


def test_live_sections_put_their_trigger_filters_where_htmx_parses_them(
    operator: Client, ledger: Store, sandbox: SandboxServer, clock: ManualClock
) -> None:
    record = submit(ledger, sandbox, clock)
    for url in ("/batches/", f"/batches/{record.id}/"):
        html = operator.get(url).content.decode()
        [trigger] = re.findall(r'hx-trigger="([^"]*)"', html)
        # A filter goes right after its event (event[filter] from:x), never after from:x.
        assert not re.search(r"from:\S+\s*\[", trigger), trigger
