from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import anthropic
import pytest

from llmopt.sandbox import BatchOptions, ManualClock, SandboxServer, running_sandbox

from .conftest import batch_items, results_of, sdk_client, send

HOUR = 3600
DAY = 24 * HOUR


@pytest.fixture
def waves(clock: ManualClock) -> Iterator[SandboxServer]:
    """Batches run two requests at a time, each pair taking 60 s."""
    with running_sandbox(clock=clock, batches=BatchOptions(item_seconds=60, parallelism=2)) as s:
        yield s


@pytest.fixture
def client(waves: SandboxServer) -> Iterator[anthropic.Anthropic]:
    with sdk_client(waves.base_url) as sdk:
        yield sdk


def test_a_slow_batch_keeps_every_request_processing_until_its_last_one_is_done(
    client: anthropic.Anthropic, clock: ManualClock
) -> None:
    batch = client.messages.batches.create(requests=batch_items(5))  # waves end at 60, 120, 180

    seen = []
    for seconds in (59, 1, 60, 59, 1):
        clock.advance(seconds)
        current = client.messages.batches.retrieve(batch.id)
        seen.append((current.processing_status, current.request_counts.processing))

    assert seen == [
        ("in_progress", 5),
        ("in_progress", 5),
        ("in_progress", 5),
        ("in_progress", 5),
        ("ended", 0),
    ]
    assert current.ended_at == batch.created_at + timedelta(seconds=180)
    assert current.request_counts.succeeded == 5


def test_cancel_lets_the_requests_in_flight_finish_and_cancels_the_rest(
    client: anthropic.Anthropic, clock: ManualClock
) -> None:
    batch = client.messages.batches.create(requests=batch_items(10))
    clock.advance(130)  # two waves done, the third in flight until 180

    canceling = client.messages.batches.cancel(batch.id)
    again = client.messages.batches.cancel(batch.id)
    clock.advance(49)
    still = client.messages.batches.retrieve(batch.id)
    clock.advance(1)
    ended = client.messages.batches.retrieve(batch.id)
    results = results_of(client, batch.id)

    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at == batch.created_at + timedelta(seconds=130)
    assert canceling.request_counts.processing == 10
    assert again.processing_status == "canceling"
    assert again.cancel_initiated_at == canceling.cancel_initiated_at
    assert still.processing_status == "canceling"
    assert ended.processing_status == "ended"
    assert ended.ended_at == batch.created_at + timedelta(seconds=180)
    counts = ended.request_counts
    assert (counts.succeeded, counts.canceled, counts.processing) == (6, 4, 0)
    assert counts.succeeded + counts.errored + counts.canceled + counts.expired == 10
    assert sorted(r.type for r in results.values()) == ["canceled"] * 4 + ["succeeded"] * 6


def test_a_batch_cannot_be_canceled_once_it_has_ended(
    client: anthropic.Anthropic, clock: ManualClock
) -> None:
    batch = client.messages.batches.create(requests=batch_items(2))
    clock.advance(60)

    with pytest.raises(anthropic.BadRequestError, match="already ended"):
        client.messages.batches.cancel(batch.id)


def test_cancel_before_anything_finished_cancels_all_but_the_first_wave(
    client: anthropic.Anthropic, clock: ManualClock
) -> None:
    batch = client.messages.batches.create(requests=batch_items(7))

    client.messages.batches.cancel(batch.id)
    clock.advance(60)
    ended = client.messages.batches.retrieve(batch.id)

    assert (ended.request_counts.succeeded, ended.request_counts.canceled) == (2, 5)


def test_requests_not_done_24_hours_after_creation_expire(clock: ManualClock) -> None:
    options = BatchOptions(item_seconds=HOUR, parallelism=1)
    with (
        running_sandbox(clock=clock, batches=options) as sandbox,
        sdk_client(sandbox.base_url) as client,
    ):
        batch = client.messages.batches.create(requests=batch_items(30))
        clock.advance(DAY - 1)
        before = client.messages.batches.retrieve(batch.id)
        clock.advance(1)
        ended = client.messages.batches.retrieve(batch.id)
        results = results_of(client, batch.id)

    assert before.processing_status == "in_progress"
    assert ended.processing_status == "ended"
    assert ended.ended_at == ended.expires_at
    assert (ended.request_counts.succeeded, ended.request_counts.expired) == (24, 6)
    assert sum(r.type == "expired" for r in results.values()) == 6


def test_a_batch_looked_at_only_after_it_expired_ends_at_its_expiry(clock: ManualClock) -> None:
    options = BatchOptions(item_seconds=10 * HOUR, parallelism=1)
    with (
        running_sandbox(clock=clock, batches=options) as sandbox,
        sdk_client(sandbox.base_url) as client,
    ):
        batch = client.messages.batches.create(requests=batch_items(3))
        clock.advance(3 * DAY)
        ended = client.messages.batches.retrieve(batch.id)

    assert ended.ended_at == batch.expires_at
    assert (ended.request_counts.succeeded, ended.request_counts.expired) == (2, 1)


def test_results_stay_downloadable_for_29_days_then_are_gone(
    sandbox: SandboxServer, clock: ManualClock
) -> None:
    with sdk_client(sandbox.base_url) as client:
        batch = client.messages.batches.create(requests=batch_items(3))
        clock.advance(29 * DAY - 1)
        kept = results_of(client, batch.id)
        still = client.messages.batches.retrieve(batch.id)
        clock.advance(1)
        archived = client.messages.batches.retrieve(batch.id)
        with pytest.raises(anthropic.NotFoundError) as raised:
            results_of(client, batch.id)
    raw = send(sandbox.base_url, f"/v1/messages/batches/{batch.id}/results", method="GET")

    assert len(kept) == 3
    assert still.archived_at is None
    assert archived.archived_at == batch.created_at + timedelta(days=29)
    assert archived.request_counts.succeeded == 3  # the batch itself is still there
    assert raised.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert raw.status == 404


def test_sandbox_batches_shows_every_batch_and_the_calls_made(
    client: anthropic.Anthropic, waves: SandboxServer, clock: ManualClock
) -> None:
    first = client.messages.batches.create(requests=batch_items(2))
    clock.advance(60)
    second = client.messages.batches.create(requests=batch_items(4))
    client.messages.batches.retrieve(second.id)

    shown = send(waves.base_url, "/_sandbox/batches", method="GET", api_key=None).json()

    assert shown["calls"] == {"create": 2, "retrieve": 1}
    assert [(b["id"], b["processing_status"]) for b in shown["batches"]] == [
        (first.id, "ended"),
        (second.id, "in_progress"),
    ]
    assert waves.batch_calls() == {"create": 2, "retrieve": 1}
