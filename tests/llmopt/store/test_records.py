"""The record models: UTC datetimes, minute roll-ups, batch changes and route statistics."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from llmopt.store import (
    LATENCY_BUCKETS_MS,
    BatchRecord,
    BatchStatus,
    RouteStatsRollup,
    UsageRollup,
    latency_bucket,
)

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


def _buckets(**counts: int) -> list[int]:
    """Latency buckets with ``b<i>=n`` calls in bucket ``i``."""
    buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for name, count in counts.items():
        buckets[int(name[1:])] = count
    return buckets


@pytest.mark.parametrize(
    ("latency_ms", "bucket"), [(0, 0), (10, 0), (10.5, 1), (999, 6), (60_000, 11), (60_001, 12)]
)
def test_a_call_falls_in_the_first_bucket_whose_upper_bound_it_does_not_exceed(
    latency_ms: float, bucket: int
) -> None:
    assert latency_bucket(latency_ms) == bucket


def test_a_latency_percentile_is_the_bound_of_the_bucket_reaching_it() -> None:
    stats = RouteStatsRollup(
        minute=START, entry_key="e", calls=10, latency_buckets=_buckets(b1=5, b3=4, b12=1)
    )

    assert stats.latency_percentile(0.5) == 25
    assert stats.latency_percentile(0.9) == 100
    assert stats.latency_percentile(0.95) == math.inf
    assert stats.latency_percentile(0) == 25


def test_without_timed_calls_there_is_no_latency_percentile() -> None:
    assert RouteStatsRollup(minute=START, entry_key="e").latency_percentile(0.5) is None


def test_a_percentile_outside_0_to_1_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        RouteStatsRollup(minute=START, entry_key="e").latency_percentile(95)


def test_folding_route_stats_sums_counters_buckets_and_error_classes() -> None:
    a = RouteStatsRollup(
        minute=START,
        entry_key="e1",
        calls=2,
        errors={"Timeout": 1},
        latency_ms_sum=30.0,
        latency_buckets=_buckets(b0=1, b1=1),
        cost_usd=0.5,
        tokens=10,
    )
    b = RouteStatsRollup(
        minute=START + timedelta(minutes=1),
        entry_key="e2",
        calls=1,
        errors={"Timeout": 1, "RateLimited": 2},
        latency_ms_sum=70.0,
        latency_buckets=_buckets(b3=1),
        cost_usd=0.25,
        tokens=5,
    )

    total = RouteStatsRollup.fold([a, b], minute=START, entry_key="all")

    assert (total.minute, total.entry_key, total.calls, total.tokens) == (START, "all", 3, 15)
    assert total.errors == {"Timeout": 2, "RateLimited": 2} and total.error_count == 4
    assert total.latency_buckets == _buckets(b0=1, b1=1, b3=1)
    assert (total.latency_ms_sum, total.cost_usd) == (100.0, 0.75)
    assert RouteStatsRollup.fold([], minute=START, entry_key="e").calls == 0
    with pytest.raises(ValueError, match="same minute"):
        _ = a + b


def test_route_stats_minutes_are_truncated_and_their_buckets_checked() -> None:
    stats = RouteStatsRollup(minute=START + timedelta(seconds=59), entry_key="e")

    assert stats.minute == START
    with pytest.raises(ValidationError, match="13 counts"):
        RouteStatsRollup(minute=START, entry_key="e", latency_buckets=[1, 2])
    with pytest.raises(ValidationError, match="negative"):
        RouteStatsRollup(minute=START, entry_key="e", latency_buckets=_buckets(b0=-1))
