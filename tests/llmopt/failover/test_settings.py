from __future__ import annotations

from typing import Any

import pytest

from llmopt.errors import ConfigError
from llmopt.failover import CircuitBreakerSettings


def test_it_reads_the_documents_camel_case_object() -> None:
    raw = {"failureThreshold": 5, "windowSeconds": 60, "coolDownSeconds": 30, "halfOpenMaxCalls": 1}

    settings = CircuitBreakerSettings.from_dict(raw)

    assert settings.failure_threshold == 5 and settings.cool_down_seconds == 30
    assert settings.to_dict() == raw


def test_it_reads_snake_case_too_and_defaults_what_is_missing() -> None:
    settings = CircuitBreakerSettings.from_dict({"failure_threshold": 2})
    assert (settings.failure_threshold, settings.window_seconds) == (2, 60)
    assert CircuitBreakerSettings.from_dict(None) == CircuitBreakerSettings()


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"failureThreshold": 0}, "failureThreshold", "from 1 to 1,000 (got 0)"),
        ({"failureThreshold": True}, "failureThreshold", "(got true)"),
        ({"windowSeconds": -1}, "windowSeconds", "above 0"),
        ({"coolDownSeconds": "30"}, "coolDownSeconds", "(got '30')"),
        ({"half_open_max_calls": 101}, "halfOpenMaxCalls", "from 1 to 100"),
        ({"failureTreshold": 3}, "failureTreshold", "is not a circuit breaker setting"),
    ],
)
def test_a_bad_value_is_one_sentence_naming_its_field(
    raw: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        CircuitBreakerSettings.from_dict(raw)

    problems = raised.value.by_field()
    assert list(problems) == [field]
    assert message in problems[field][0]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        CircuitBreakerSettings.from_dict({"failureThreshold": 0, "windowSeconds": 0})
    assert set(raised.value.by_field()) == {"failureThreshold", "windowSeconds"}
