"""Per-model behaviour that does not make sense is refused, naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from llmopt.sandbox import FaultPlan, FaultRule, SandboxServer

from .cli import sandbox_process
from .conftest import MODEL, send

BAD_RULES = [
    ({"outage": {"start": 20, "end": 20}}, "outage.end must be after outage.start"),
    ({"outage": {"start": 30, "end": 20}}, "outage.end must be after outage.start"),
    ({"outage": {"start": -5, "end": 20}}, "must not be negative"),
    ({"outage": {"start": "2026-01-01T00:00:00Z", "end": 60}}, "both be seconds"),
    (
        {"outage": {"start": "2026-01-01T00:02:00Z", "end": "2026-01-01T00:01:00Z"}},
        "outage.end must be after outage.start",
    ),
    ({"outage": {"start": "2026-01-01T00:00:00", "end": "2026-01-01T00:01:00"}}, "timezone"),
    ({"latency": {"p50_ms": 500, "p95_ms": 100}}, "p95_ms .* must be at least p50_ms"),
    ({"latency": {"p50_ms": 0, "p95_ms": 100}}, "p50_ms"),
    ({"latency": {"p50_ms": 100, "p95_ms": 200, "max_ms": 50}}, "max_ms"),
    ({"latency": {"p50_ms": 100}}, "p95_ms"),
    ({"latency_ms": -1}, "latency_ms"),
    ({"stream_chunk_delay_ms": -3}, "stream_chunk_delay_ms"),
    ({"rate_limit": {"requests": 0, "per_seconds": 60}}, "requests"),
    ({"rate_limit": {"requests": 5, "per_seconds": 0}}, "per_seconds"),
    ({"rate_limit": {"requests": 5, "per_seconds": 60, "tokens": -1}}, "tokens"),
    ({"rate_limit": {"requests": 5, "per_seconds": 60}, "error": "overloaded"}, "rate_limit"),
    ({"rate_limit": {"requests": 5, "per_seconds": 60}, "rate": 0.5}, "rate_limit.*rate"),
    ({"error": "timeout"}, "hang_ms"),
    ({"error": "overloaded", "hang_ms": 100}, "hang_ms"),
    ({"error": "overloaded", "models": []}, "models"),
    ({"error": "overloaded", "models": [""]}, "models"),
    ({"error": "overloaded", "latency": {"p50_ms": 1, "p95_ms": 2, "p99_ms": 3}}, "p99_ms"),
    ({"error": "overloaded", "outage": {"start": 0, "end": 5, "every": 60}}, "every"),
    ({"brownout": True, "error": "overloaded"}, "brownout"),
    ({}, "needs an error or a latency"),
]


@pytest.mark.parametrize(("fields", "reason"), BAD_RULES)
def test_a_rule_that_makes_no_sense_is_refused_with_the_field_named(
    fields: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        FaultRule.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"outage": {"start": 20, "end": 10}}, "rules.0.outage"),
        ({"latency": {"p50_ms": 500, "p95_ms": 100}}, "rules.0.latency"),
        ({"rate_limit": {"requests": -1, "per_seconds": 1}}, "rules.0.rate_limit.requests"),
        ({"error": "overloaded", "models": ["m"], "speed": 2}, "rules.0.speed"),
    ],
)
def test_the_control_api_answers_400_naming_the_bad_field(
    sandbox: SandboxServer, fields: dict[str, Any], where: str
) -> None:
    response = send(sandbox.base_url, "/_sandbox/faults", {"rules": [fields]}, api_key=None)

    assert response.status == 400
    assert where in response.json()["error"]["message"]


def test_per_model_plans_over_http_become_rules_for_those_models(sandbox: SandboxServer) -> None:
    plan = {
        "seed": 5,
        "models": {
            "gpt-5.4-mini": {"latency": {"p50_ms": 400, "p95_ms": 1500}},
            MODEL: [{"outage": {"start": 0, "end": 60}}, {"stream_chunk_delay_ms": 40}],
        },
    }

    shown = send(sandbox.base_url, "/_sandbox/faults", plan, api_key=None).json()
    bad = send(
        sandbox.base_url,
        "/_sandbox/faults",
        {"models": {MODEL: {"models": ["x"], "error": "overloaded"}}},
        api_key=None,
    )

    assert [rule["models"] for rule in shown["rules"]] == [["gpt-5.4-mini"], [MODEL], [MODEL]]
    assert shown["rules"][0]["latency"] == {"p50_ms": 400.0, "p95_ms": 1500.0, "max_ms": None}
    assert shown["seed"] == 5
    assert bad.status == 400
    assert f"models.{MODEL}" in bad.json()["error"]["message"]


def test_for_models_takes_rules_and_their_json_alike() -> None:
    plan = FaultPlan.for_models(
        {
            "a": FaultRule.rate_limited(3, 10),
            "b": {"rate_limit": {"requests": 3, "per_seconds": 10}},
        }
    )

    assert plan.rules[0].rate_limit == plan.rules[1].rate_limit
    assert [r.models for r in plan.rules] == [("a",), ("b",)]


def test_the_command_line_loads_a_per_model_plan(tmp_path: Any) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"models": {"claude-sonnet-*": {"outage": {"start": 0, "end": 3600}}}}')
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}

    with sandbox_process("--faults", str(plan)) as running:
        response = send(running.base_url, "/v1/messages", body)
        running.process.terminate()
        running.process.wait(timeout=10)

    assert response.status == 529
