from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import pytest

from llmopt.sandbox import BatchOptions, ManualClock, SandboxServer, running_sandbox

from .conftest import MODEL, batch_item, batch_items, results_of, sdk_client, send

BATCHES = "/v1/messages/batches"


@pytest.fixture
def slow(clock: ManualClock) -> Any:
    """A sandbox whose batches take 60 s per request, one at a time."""
    with running_sandbox(clock=clock, batches=BatchOptions(item_seconds=60, parallelism=1)) as s:
        yield s


def test_a_new_batch_is_in_progress_with_every_request_processing(
    sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    batch = client.messages.batches.create(requests=batch_items(3))

    created = datetime.fromtimestamp(clock(), UTC)
    assert batch.id.startswith("msgbatch_")
    assert batch.type == "message_batch"
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.model_dump() == {
        "processing": 3,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert batch.created_at == created
    assert batch.expires_at == created + timedelta(hours=24)
    assert (batch.ended_at, batch.cancel_initiated_at, batch.archived_at) == (None, None, None)
    assert batch.results_url is None


def test_an_instant_batch_has_ended_by_its_first_retrieve(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    created = client.messages.batches.create(requests=batch_items(4))

    batch = client.messages.batches.retrieve(created.id)

    assert batch.processing_status == "ended"
    assert batch.ended_at == created.created_at
    assert batch.request_counts.succeeded == 4
    assert batch.request_counts.processing == 0
    assert batch.results_url == f"{sandbox.base_url}{BATCHES}/{batch.id}/results"


def test_timestamps_are_rfc_3339_in_utc(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(requests=batch_items(1))

    raw = send(sandbox.base_url, f"{BATCHES}/{batch.id}", method="GET").json()

    assert raw["created_at"] == "2026-01-01T00:00:00Z"
    assert raw["expires_at"] == "2026-01-02T00:00:00Z"
    assert raw["ended_at"] == "2026-01-01T00:00:00Z"
    assert raw["cancel_initiated_at"] is None


def test_results_are_full_messages_matched_by_custom_id_not_by_order(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    requests = batch_items(20)
    batch = client.messages.batches.create(requests=requests)
    client.messages.batches.retrieve(batch.id)

    lines = list(client.messages.batches.results(batch.id))
    direct = client.messages.create(**requests[7]["params"])

    order = [line.custom_id for line in lines]
    assert order != [r["custom_id"] for r in requests]
    assert sorted(order) == sorted(r["custom_id"] for r in requests)
    seventh = next(line.result for line in lines if line.custom_id == "item-7")
    assert seventh.type == "succeeded"
    assert seventh.message.content == direct.content  # the same request, the same reply
    assert seventh.message.usage.input_tokens == direct.usage.input_tokens
    assert seventh.message.usage.service_tier == "batch"
    assert seventh.message.id.startswith("msg_")


def test_the_results_order_is_the_same_at_every_download(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(requests=batch_items(12))
    client.messages.batches.retrieve(batch.id)

    first = [line.custom_id for line in client.messages.batches.results(batch.id)]
    again = [line.custom_id for line in client.messages.batches.results(batch.id)]

    assert first == again


def test_the_results_file_is_json_lines_with_no_blank_line(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(requests=batch_items(700))
    client.messages.batches.retrieve(batch.id)

    response = send(
        sandbox.base_url,
        f"{BATCHES}/{batch.id}/results",
        method="GET",
        headers={"accept": "application/binary"},
    )

    assert response.status == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.body.endswith(b"\n")
    lines = response.body.split(b"\n")[:-1]
    assert len(lines) == 700
    assert all(line.strip() for line in lines)
    assert {json.loads(line)["result"]["type"] for line in lines} == {"succeeded"}


async def test_the_async_client_creates_polls_and_reads_results(sandbox: SandboxServer) -> None:
    client = anthropic.AsyncAnthropic(
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(verify=False),
    )
    async with client:
        created = await client.messages.batches.create(requests=batch_items(5))
        batch = await client.messages.batches.retrieve(created.id)
        results = {
            line.custom_id: line.result
            async for line in await client.messages.batches.results(batch.id)
        }
        listed = [b.id async for b in client.messages.batches.list()]
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.batches.cancel(batch.id)
        deleted = await client.messages.batches.delete(batch.id)

    assert batch.processing_status == "ended"
    assert sorted(results) == [f"item-{i}" for i in range(5)]
    assert {r.type for r in results.values()} == {"succeeded"}
    assert listed == [batch.id]
    assert deleted.type == "message_batch_deleted"


def test_an_unknown_batch_is_not_found(sandbox: SandboxServer, client: anthropic.Anthropic) -> None:
    for call in (
        client.messages.batches.retrieve,
        client.messages.batches.cancel,
        client.messages.batches.delete,
    ):
        with pytest.raises(anthropic.NotFoundError) as raised:
            call("msgbatch_0000000000nothinghere")
        assert raised.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


def test_results_are_not_served_before_the_batch_ends(
    slow: SandboxServer, clock: ManualClock
) -> None:
    with sdk_client(slow.base_url) as client:
        batch = client.messages.batches.create(requests=batch_items(3))

        with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):
            client.messages.batches.results(batch.id)
        raw = send(slow.base_url, f"{BATCHES}/{batch.id}/results", method="GET")
        clock.advance(180)
        after = results_of(client, batch.id)

    assert raw.status == 404
    assert raw.json()["error"]["type"] == "not_found_error"
    assert len(after) == 3


def test_every_batch_endpoint_needs_an_api_key(sandbox: SandboxServer) -> None:
    created = send(sandbox.base_url, BATCHES, {"requests": batch_items(1)})
    batch_id = created.json()["id"]

    calls = [
        ("POST", BATCHES),
        ("GET", BATCHES),
        ("GET", f"{BATCHES}/{batch_id}"),
        ("POST", f"{BATCHES}/{batch_id}/cancel"),
        ("DELETE", f"{BATCHES}/{batch_id}"),
        ("GET", f"{BATCHES}/{batch_id}/results"),
    ]
    statuses = {
        send(
            sandbox.base_url, path, {"requests": batch_items(1)}, method=method, api_key=None
        ).status
        for method, path in calls
    }

    assert created.status == 200
    assert statuses == {401}


# -- list ------------------------------------------------------------------------------


def make_batches(client: anthropic.Anthropic, clock: ManualClock, count: int) -> list[str]:
    """``count`` batches, a second apart; their ids, oldest first."""
    ids = []
    for _ in range(count):
        ids.append(client.messages.batches.create(requests=batch_items(1)).id)
        clock.advance(1)
    return ids


def test_list_shows_the_newest_batches_first_a_page_at_a_time(
    sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    ids = make_batches(client, clock, 5)

    page = client.messages.batches.list(limit=2)
    everything = [b.id for b in client.messages.batches.list(limit=2)]

    assert [b.id for b in page.data] == [ids[4], ids[3]]
    assert page.has_more is True
    assert (page.first_id, page.last_id) == (ids[4], ids[3])
    assert everything == ids[::-1]  # the SDK follows after_id page by page


def test_list_pages_backwards_with_before_id(
    sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    ids = make_batches(client, clock, 5)

    page = client.messages.batches.list(before_id=ids[0], limit=2)
    following = [b.id for b in client.messages.batches.list(before_id=ids[0], limit=2)]

    assert [b.id for b in page.data] == [ids[2], ids[1]]  # the two just after the cursor
    assert page.has_more is True
    assert following == [ids[2], ids[1], ids[4], ids[3]]  # the SDK follows before_id


def test_list_pages_forwards_with_after_id_to_the_end(
    sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    ids = make_batches(client, clock, 4)

    page = client.messages.batches.list(after_id=ids[2], limit=5)
    empty = client.messages.batches.list(after_id=ids[0])

    assert [b.id for b in page.data] == [ids[1], ids[0]]
    assert page.has_more is False
    assert (empty.data, empty.has_more, empty.first_id, empty.last_id) == ([], False, None, None)


def test_list_returns_twenty_by_default(
    sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    make_batches(client, clock, 21)

    page = client.messages.batches.list()

    assert len(page.data) == 20
    assert page.has_more is True


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("limit=1001", "limit: Input should be less than or equal to 1000"),
        ("limit=ten", "limit: Input should be a valid integer"),
        ("after_id=msgbatch_x&before_id=msgbatch_y", "only one of after_id and before_id"),
        ("after_id=nonsense", "after_id: Invalid message batch id"),
    ],
)
def test_list_refuses_bad_paging(sandbox: SandboxServer, query: str, message: str) -> None:
    response = send(sandbox.base_url, f"{BATCHES}?{query}", method="GET")

    assert response.status == 400
    assert message in response.json()["error"]["message"]


def test_list_brings_each_batch_up_to_the_clock(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    client.messages.batches.create(requests=batch_items(2))

    (batch,) = client.messages.batches.list().data

    assert batch.processing_status == "ended"


# -- delete ------------------------------------------------------------------------------


def test_a_batch_can_be_deleted_only_once_it_has_ended(
    slow: SandboxServer, clock: ManualClock
) -> None:
    with sdk_client(slow.base_url) as client:
        batch = client.messages.batches.create(requests=batch_items(2))
        with pytest.raises(anthropic.BadRequestError, match="cannot be deleted while"):
            client.messages.batches.delete(batch.id)
        clock.advance(120)
        deleted = client.messages.batches.delete(batch.id)

        with pytest.raises(anthropic.NotFoundError):
            client.messages.batches.retrieve(batch.id)
        listed = client.messages.batches.list().data

    assert deleted.model_dump() == {"id": batch.id, "type": "message_batch_deleted"}
    assert listed == []


# -- create: limits and validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "requests: Field required"),
        ({"requests": {}}, "requests: Input should be a valid list"),
        ({"requests": []}, "requests: List should have at least 1 item after validation, not 0"),
        ({"requests": ["x"]}, "requests.0: Input should be a valid dictionary"),
        ({"requests": [{"params": {}}]}, "requests.0.custom_id: Field required"),
        ({"requests": [{"custom_id": "a"}]}, "requests.0.params: Field required"),
        (
            {"requests": [{"custom_id": 7, "params": {}}]},
            "requests.0.custom_id: Input should be a valid string",
        ),
        (
            {"requests": [{"custom_id": "has space", "params": {}}]},
            "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (
            {"requests": [{"custom_id": "x" * 65, "params": {}}]},
            "requests.0.custom_id: String should match pattern",
        ),
        (
            {"requests": [{"custom_id": "", "params": {}}]},
            "requests.0.custom_id: String should match pattern",
        ),
        (
            {"requests": [{"custom_id": "a", "params": "hi"}]},
            "requests.0.params: Input should be a valid dictionary",
        ),
        (
            {"requests": [{"custom_id": "a", "params": {}, "priority": 1}]},
            "requests.0.priority: Extra inputs are not permitted",
        ),
        (
            {"requests": [batch_item("same"), batch_item("other"), batch_item("same")]},
            "requests.2.custom_id: Duplicate custom_id 'same'",
        ),
    ],
)
def test_create_refuses_a_malformed_batch(
    sandbox: SandboxServer, body: dict[str, Any], message: str
) -> None:
    response = send(sandbox.base_url, BATCHES, body)

    assert response.status == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert message in response.json()["error"]["message"]
    assert sandbox.batch_calls() == {"create": 1}


def test_custom_ids_use_letters_digits_dashes_and_underscores_up_to_64(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    ids = ["a", "Z-9_x", "x" * 64]

    batch = client.messages.batches.create(requests=[batch_item(i) for i in ids])

    assert sorted(results_of(client, batch.id)) == sorted(ids)


def test_a_batch_holds_at_most_100_000_requests(sandbox: SandboxServer) -> None:
    too_many = [{"custom_id": f"r{i}", "params": {}} for i in range(100_001)]

    response = send(sandbox.base_url, BATCHES, {"requests": too_many})

    assert response.status == 400
    assert response.json()["error"]["message"] == (
        "requests: List should have at most 100000 items after validation, not 100001"
    )


def test_the_request_limit_is_an_option(clock: ManualClock) -> None:
    with (
        running_sandbox(clock=clock, batches=BatchOptions(max_requests=3)) as sandbox,
        sdk_client(sandbox.base_url) as client,
    ):
        client.messages.batches.create(requests=batch_items(3))
        with pytest.raises(anthropic.BadRequestError, match="at most 3 items"):
            client.messages.batches.create(requests=batch_items(4))


def test_a_create_body_over_the_size_limit_gets_413(clock: ManualClock) -> None:
    assert BatchOptions().max_bytes == 256 * 1024 * 1024
    with (
        running_sandbox(clock=clock, batches=BatchOptions(max_bytes=2_000)) as sandbox,
        sdk_client(sandbox.base_url) as client,
    ):
        client.messages.batches.create(requests=batch_items(5))
        with pytest.raises(anthropic.APIStatusError) as raised:
            client.messages.batches.create(requests=batch_items(50))

    assert raised.value.status_code == 413
    assert raised.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        ({"stream": True}, "stream: streaming is not supported"),
        ({"model": "claude-nonexistent-1"}, "model: claude-nonexistent-1"),
        ({"messages": []}, "messages: at least one message is required"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "text",
                                "text": "hi",
                                "cache_control": {"type": "ephemeral", "ttl": "2h"},
                            }
                        ],
                    }
                ]
            },
            "cache_control.ttl: Input should be '5m' or '1h'",
        ),
        (
            {
                "system": [
                    {"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}}
                    for i in range(5)
                ]
            },
            "A maximum of 4 blocks with cache_control may be provided. Found 5.",
        ),
    ],
)
def test_bad_params_become_errored_results_not_a_failed_create(
    sandbox: SandboxServer, client: anthropic.Anthropic, params: dict[str, Any], message: str
) -> None:
    bad = batch_item("bad", **params)
    bad["params"] = {k: v for k, v in bad["params"].items() if v is not None}

    batch = client.messages.batches.create(requests=[batch_item("good"), bad])
    ended = client.messages.batches.retrieve(batch.id)
    results = results_of(client, batch.id)

    assert ended.request_counts.errored == 1
    assert ended.request_counts.succeeded == 1
    assert results["good"].type == "succeeded"
    assert results["bad"].type == "errored"
    assert results["bad"].error.type == "error"
    assert results["bad"].error.error.type == "invalid_request_error"
    assert message in results["bad"].error.error.message
    assert results["bad"].error.request_id.startswith("req_")


def test_the_model_named_in_params_is_used(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(
        requests=[batch_item("a", model="claude-haiku-4-5"), batch_item("b")]
    )

    results = results_of(client, batch.id)

    assert results["a"].message.model == "claude-haiku-4-5"
    assert results["b"].message.model == MODEL


def test_concurrent_clients_each_get_their_batch_and_everything_is_billed_once(
    sandbox: SandboxServer,
) -> None:
    def run(worker: int) -> tuple[str, int]:
        with sdk_client(sandbox.base_url) as client:
            batch = client.messages.batches.create(requests=batch_items(25, f"w{worker}"))
            for _ in range(3):
                client.messages.batches.retrieve(batch.id)
                client.messages.batches.list(limit=5)
            return batch.id, len(results_of(client, batch.id))

    with ThreadPoolExecutor(max_workers=12) as pool:
        done = list(pool.map(run, range(12)))

    assert len({batch_id for batch_id, _ in done}) == 12
    assert {count for _, count in done} == {25}
    assert sandbox.billing().models[MODEL].batch_requests_succeeded == 12 * 25
