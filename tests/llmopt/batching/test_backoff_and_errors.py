from __future__ import annotations

import random

import pytest

from llmopt.batching._backoff import Backoff
from llmopt.batching._errors import item_error


def test_delays_double_up_to_the_maximum_with_at_most_half_taken_off_by_jitter() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(3))

    delays = [backoff.delay(n) for n in range(8)]

    for n, delay in enumerate(delays):
        base = min(8.0, 2.0**n)
        assert base / 2 <= delay <= base
    assert max(delays) <= 8.0


def test_a_server_s_retry_after_is_a_floor_for_the_delay() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(3))

    assert backoff.delay(0, retry_after=30.0) == 30.0
    assert backoff.delay(5, retry_after=0.1) >= 4.0


def test_the_same_seed_gives_the_same_delays() -> None:
    first = Backoff(1.0, 60.0, random.Random(7))
    second = Backoff(1.0, 60.0, random.Random(7))

    assert [first.delay(n) for n in range(6)] == [second.delay(n) for n in range(6)]


@pytest.mark.parametrize(
    ("kind", "retryable", "status"),
    [
        ("invalid_request_error", False, 400),
        ("not_found_error", False, 404),
        ("api_error", True, 500),
        ("overloaded_error", True, 529),
        ("rate_limit_error", True, 429),
        ("some_new_error", True, None),
    ],
)
def test_an_errored_item_is_retryable_unless_resending_cannot_help(
    kind: str, retryable: bool, status: int | None
) -> None:
    error = item_error({"type": "error", "error": {"type": kind, "message": "boom"}}, "r-1")

    assert error.retryable is retryable
    assert error.status_code == status
    assert "r-1" in str(error) and kind in str(error) and "boom" in str(error)
