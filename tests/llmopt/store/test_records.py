"""The record models: UTC datetimes, minute roll-ups and validated batch changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from llmopt.store import BatchRecord, BatchStatus, UsageRollup

from .conftest import START


def test_a_usage_rollup_minute_is_truncated_and_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))

    rollup = UsageRollup(
        minute=datetime(2025, 3, 1, 14, 5, 59, 999, tzinfo=plus_two), entry_key="e"
    )

    assert rollup.minute == datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    assert rollup.minute.tzinfo is not None and rollup.minute.utcoffset() == timedelta(0)


def test_a_naive_datetime_is_rejected_rather_than_guessed() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        UsageRollup(minute=datetime(2025, 3, 1, 12, 5), entry_key="e")


def test_adding_two_rollups_of_the_same_minute_and_entry_sums_every_counter() -> None:
    a = UsageRollup(minute=START, entry_key="e", calls=1, input_tokens=10, cost_usd=0.1)
    b = UsageRollup(minute=START, entry_key="e", calls=2, unpriced_calls=1, cost_usd=0.2)

    total = a + b

    assert (total.calls, total.input_tokens, total.unpriced_calls) == (3, 10, 1)
    assert total.cost_usd == pytest.approx(0.3)


def test_rollups_of_different_minutes_cannot_be_added() -> None:
    a = UsageRollup(minute=START, entry_key="e")

    with pytest.raises(ValueError, match="same minute"):
        _ = a + UsageRollup(minute=START + timedelta(minutes=1), entry_key="e")


def test_a_new_batch_is_pending_with_zero_request_counts() -> None:
    batch = BatchRecord(id="b", provider="anthropic", model="m", entry_key="e", created_at=START)

    assert batch.status is BatchStatus.PENDING
    assert batch.request_counts == {
        "processing": 0,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert batch.requests == {}


def test_datetimes_serialise_to_one_fixed_width_form_that_sorts_chronologically() -> None:
    batch = BatchRecord(id="b", provider="p", model="m", entry_key="e", created_at=START)

    assert batch.model_dump(mode="json")["created_at"] == "2025-03-01T12:00:00.000000+00:00"
    assert BatchRecord.model_validate_json(batch.model_dump_json()) == batch
