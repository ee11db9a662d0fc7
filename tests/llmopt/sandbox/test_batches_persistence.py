from __future__ import annotations

import json
import signal
from datetime import timedelta
from pathlib import Path

import anthropic
import pytest

from llmopt.sandbox import BatchItemFault, BatchOptions, ManualClock, running_sandbox

from .cli import sandbox_process
from .conftest import MODEL, batch_items, results_of, sdk_client, send

BATCHES = "/v1/messages/batches"


def raw_results(base_url: str, batch_id: str) -> bytes:
    response = send(base_url, f"{BATCHES}/{batch_id}/results", method="GET")
    assert response.status == 200
    return response.body


def test_batches_results_and_billing_survive_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    with (
        running_sandbox(clock=clock, data_dir=tmp_path) as first,
        sdk_client(first.base_url) as client,
    ):
        ended = client.messages.batches.create(requests=batch_items(5))
        client.messages.batches.retrieve(ended.id)
        client.messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
        )
        results = raw_results(first.base_url, ended.id)
        billing = first.billing()

    with (
        running_sandbox(clock=clock, data_dir=tmp_path) as second,
        sdk_client(second.base_url) as client,
    ):
        again = client.messages.batches.retrieve(ended.id)
        listed = [b.id for b in client.messages.batches.list()]
        results_again = raw_results(second.base_url, ended.id)
        billing_again = second.billing()

    assert again.processing_status == "ended"
    assert again.request_counts.succeeded == 5
    assert listed == [ended.id]
    assert results_again == results
    assert billing_again == billing
    assert billing_again.models[MODEL].requests_succeeded == 6


def test_an_unfinished_batch_continues_after_a_restart_without_running_anything_twice(
    tmp_path: Path,
) -> None:
    options = BatchOptions(item_seconds=60, parallelism=2)
    clock = ManualClock()
    with (
        running_sandbox(clock=clock, data_dir=tmp_path, batches=options) as first,
        sdk_client(first.base_url) as client,
    ):
        batch = client.messages.batches.create(requests=batch_items(6))
        clock.advance(60)
        client.messages.batches.retrieve(batch.id)  # the first two requests run and are billed
        early = first.billing().models[MODEL]

    restarted = ManualClock(clock())
    with (
        running_sandbox(clock=restarted, data_dir=tmp_path, batches=options) as second,
        sdk_client(second.base_url) as client,
    ):
        restarted.advance(120)
        ended = client.messages.batches.retrieve(batch.id)
        results = results_of(client, batch.id)
        billed = second.billing().models[MODEL]

    other_clock = ManualClock()
    with (
        running_sandbox(clock=other_clock, batches=options) as fresh,
        sdk_client(fresh.base_url) as client,
    ):
        same = client.messages.batches.create(requests=batch_items(6))
        other_clock.advance(180)
        client.messages.batches.retrieve(same.id)
        uninterrupted = fresh.billing().models[MODEL]

    assert early.batch_requests_succeeded == 2
    assert ended.processing_status == "ended"
    assert ended.ended_at == batch.created_at + timedelta(seconds=180)
    assert ended.request_counts.succeeded == 6
    assert sorted(results) == sorted(f"item-{i}" for i in range(6))
    assert billed.batch_requests_succeeded == 6
    assert (billed.input_tokens, billed.output_tokens, billed.cost_usd) == (
        uninterrupted.input_tokens,
        uninterrupted.output_tokens,
        uninterrupted.cost_usd,
    )


def test_canceled_and_faulted_batches_keep_their_state_across_a_restart(tmp_path: Path) -> None:
    options = BatchOptions(item_seconds=60, parallelism=1)
    clock = ManualClock()
    with (
        running_sandbox(clock=clock, data_dir=tmp_path, batches=options) as first,
        sdk_client(first.base_url) as client,
    ):
        first.add_batch_fault(BatchItemFault.expire(marker="number 2?"))
        batch = client.messages.batches.create(requests=batch_items(4))
        clock.advance(30)
        client.messages.batches.cancel(batch.id)

    with (
        running_sandbox(clock=clock, data_dir=tmp_path, batches=options) as second,
        sdk_client(second.base_url) as client,
    ):
        canceling = client.messages.batches.retrieve(batch.id)
        clock.advance(30)
        ended = client.messages.batches.retrieve(batch.id)

    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    assert ended.processing_status == "ended"
    assert ended.request_counts.succeeded + ended.request_counts.canceled == 4
    assert ended.request_counts.canceled >= 3


def test_a_deleted_batch_stays_deleted_and_its_files_are_gone(tmp_path: Path) -> None:
    clock = ManualClock()
    with (
        running_sandbox(clock=clock, data_dir=tmp_path) as first,
        sdk_client(first.base_url) as client,
    ):
        kept = client.messages.batches.create(requests=batch_items(2))
        gone = client.messages.batches.create(requests=batch_items(2))
        client.messages.batches.retrieve(kept.id)
        client.messages.batches.retrieve(gone.id)
        client.messages.batches.delete(gone.id)

    with (
        running_sandbox(clock=clock, data_dir=tmp_path) as second,
        sdk_client(second.base_url) as client,
    ):
        listed = [b.id for b in client.messages.batches.list()]

    assert listed == [kept.id]
    assert sorted(p.name for p in (tmp_path / "batches").iterdir()) == [f"{kept.id}.results.jsonl"]


def test_leftovers_of_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    clock = ManualClock()
    with (
        running_sandbox(clock=clock, data_dir=tmp_path) as first,
        sdk_client(first.base_url) as client,
    ):
        batch = client.messages.batches.create(requests=batch_items(2))
    leftovers = [
        tmp_path / ".state.json.1234.tmp",
        tmp_path / "batches" / f".{batch.id}.results.jsonl.5678.tmp",
        tmp_path / "batches" / "msgbatch_never_committed.requests.jsonl",
    ]
    for leftover in leftovers:
        leftover.write_text("half written")

    with (
        running_sandbox(clock=clock, data_dir=tmp_path) as second,
        sdk_client(second.base_url) as client,
    ):
        ended = client.messages.batches.retrieve(batch.id)

    assert ended.request_counts.succeeded == 2
    assert not any(leftover.exists() for leftover in leftovers)


def test_results_expire_from_the_data_dir_after_29_days(tmp_path: Path) -> None:
    clock = ManualClock()
    with (
        running_sandbox(clock=clock, data_dir=tmp_path) as sandbox,
        sdk_client(sandbox.base_url) as client,
    ):
        batch = client.messages.batches.create(requests=batch_items(2))
        client.messages.batches.retrieve(batch.id)
        clock.advance(29 * 24 * 3600)
        archived = client.messages.batches.retrieve(batch.id)

    assert archived.archived_at is not None
    assert list((tmp_path / "batches").iterdir()) == []


def test_a_data_dir_from_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"version": 99}))

    with (
        pytest.raises(ValueError, match="unsupported sandbox state version"),
        running_sandbox(data_dir=tmp_path),
    ):
        pass


def test_a_killed_sandbox_started_again_on_its_data_dir_still_has_its_batches(
    tmp_path: Path,
) -> None:
    data_dir = ("--data-dir", str(tmp_path))
    with sandbox_process(*data_dir) as first, sdk_client(first.base_url) as client:
        batch = client.messages.batches.create(requests=batch_items(3))
        before = client.messages.batches.retrieve(batch.id)
        results = raw_results(first.base_url, batch.id)
        first.process.send_signal(signal.SIGKILL)  # no clean shutdown: a crash
        first.process.wait(timeout=10)

    with sandbox_process(*data_dir) as second, sdk_client(second.base_url) as client:
        after = client.messages.batches.retrieve(batch.id)
        results_after = raw_results(second.base_url, batch.id)
        billed = send(second.base_url, "/_sandbox/billing", method="GET", api_key=None).json()

    assert before.processing_status == after.processing_status == "ended"
    assert results_after == results
    assert billed["models"][MODEL]["batch_requests_succeeded"] == 3


def test_without_a_data_dir_nothing_survives(tmp_path: Path) -> None:
    clock = ManualClock()
    with running_sandbox(clock=clock) as first, sdk_client(first.base_url) as client:
        client.messages.batches.create(requests=batch_items(1))

    with running_sandbox(clock=clock) as second, sdk_client(second.base_url) as client:
        with pytest.raises(anthropic.NotFoundError):
            client.messages.batches.retrieve("msgbatch_0000000000nothinghere")
        assert client.messages.batches.list().data == []


def test_a_batch_polled_wave_by_wave_keeps_few_files_and_resumes(tmp_path: Path) -> None:
    options = BatchOptions(item_seconds=1, parallelism=1)
    clock = ManualClock()
    with (
        running_sandbox(clock=clock, data_dir=tmp_path, batches=options) as first,
        sdk_client(first.base_url) as client,
    ):
        batch = client.messages.batches.create(requests=batch_items(100))
        for _ in range(70):
            clock.advance(1)
            client.messages.batches.retrieve(batch.id)
        files = len(list((tmp_path / "batches").iterdir()))

    with (
        running_sandbox(clock=clock, data_dir=tmp_path, batches=options) as second,
        sdk_client(second.base_url) as client,
    ):
        clock.advance(30)
        ended = client.messages.batches.retrieve(batch.id)
        billed = second.billing().models[MODEL]

    assert files <= 34  # the requests and at most 33 progress files
    assert ended.request_counts.succeeded == 100
    assert billed.batch_requests_succeeded == 100
