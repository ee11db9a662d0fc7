from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from llmopt.caching import plan_breakpoints
from llmopt.config import OptimizationConfig
from llmopt.providers import ProviderCapabilities

from .conftest import MODEL, assistant, config, plan, request, user

CACHING_OFF = [
    {},
    {"optimizationEnabled": True},
    {"cachingEnabled": True},
    {"optimizationEnabled": True, "cachingEnabled": True, "optimizationStrategy": "batch_only"},
    {"optimizationEnabled": False, "cachingEnabled": True, "cacheBreakpoints": "manual"},
]


def _messy_request() -> dict[str, Any]:
    """A request the planner would change in every way if caching were on."""
    marked = {"type": "thinking", "thinking": "x", "signature": "s", "cache_control": {}}
    return request(
        [
            user("Hi [CACHE_BREAKPOINT] there"),
            assistant([marked, {"type": "text", "text": "Hello"}]),
            user("More"),
        ],
        cache_control={"type": "ephemeral", "ttl": "1h"},
    )


@pytest.mark.parametrize("flags", CACHING_OFF)
def test_with_caching_off_the_request_goes_out_exactly_as_the_caller_built_it(
    flags: dict[str, Any],
) -> None:
    payload = _messy_request()

    result = plan_breakpoints(payload, model=MODEL, config=OptimizationConfig.from_dict(flags))

    assert result.payload is payload
    assert result.changed is False
    assert result.breakpoints == ()
    assert result.decisions == ("caching is off for this entry: the request goes out as built",)


@pytest.mark.parametrize(
    ("provider", "model"),
    [("anthropic", "gpt-4o"), ("openAI", "gpt-4o"), ("ollama", "llama3"), ("nope", "x")],
)
def test_without_explicit_caching_for_the_model_the_request_is_untouched(
    provider: str, model: str
) -> None:
    payload = _messy_request()
    capabilities = ProviderCapabilities.detect(provider, model)

    result = plan(payload, model=model, capabilities=capabilities)

    assert result.payload is payload
    assert result.changed is False
    assert "no explicit prompt caching" in result.decisions[0]


def test_a_request_that_needs_no_breakpoint_comes_back_as_the_same_object() -> None:
    payload = request([user("Hi")], system="Be brief.")

    result = plan(payload)

    assert result.payload is payload
    assert result.changed is False


def test_a_read_only_mapping_is_accepted_and_returned_as_a_dict() -> None:
    payload = MappingProxyType(request([user("Hi")]))

    result = plan(payload)

    assert isinstance(result.payload, dict)
    assert result.payload["system"][0]["cache_control"] == {"type": "ephemeral"}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"messages": []},
        {"messages": "not a list", "system": 7, "tools": "x"},
        {"messages": [None, {"role": "user"}, {"role": "user", "content": 3}]},
        {"messages": [{"role": "user", "content": [None, "text", 3, {"type": "mystery"}]}]},
        {"system": [{"type": "text"}, "loose"], "messages": [{"role": "user", "content": []}]},
    ],
)
def test_malformed_parts_of_a_request_pass_through_without_an_error(
    payload: dict[str, Any],
) -> None:
    result = plan(payload, config=config(cacheBreakpoints="manual"))

    assert result.payload == payload
