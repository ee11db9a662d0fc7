from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from llmopt.config import AIConfigDocument
from llmopt.errors import ConfigError
from llmopt.routing import (
    LLMRouter,
    PerformanceBook,
    RoutingSettings,
    TaskKind,
    candidates_of,
    infer_task,
    profile_request,
)

ENTRIES: list[dict[str, Any]] = [
    {
        "provider": "anthropic",
        "modelKey": "claude",
        "configuration": {
            "model": "claude-sonnet-4-6",
            "apiKey": "k",
            "routing": {"tasks": ["code", "reasoning"], "quality": 0.95},
        },
    },
    {
        "provider": "openAI",
        "modelKey": "mini",
        "configuration": {"model": "gpt-5.4-mini", "apiKey": "k", "routing": {"quality": 0.75}},
    },
    {
        "provider": "ollama",
        "modelKey": "local",
        "configuration": {
            "model": "llama3.1:8b",
            "contextLength": 8192,
            "routing": {"quality": 0.5},
        },
    },
]


def router(routing: dict[str, Any] | None = None, **kwargs: Any) -> LLMRouter:
    document = AIConfigDocument({"llm": ENTRIES}, "r1")
    candidates, skipped = candidates_of(document)
    assert skipped == []
    settings = RoutingSettings.from_dict(
        {"enabled": True, **(routing or {})}, entry_keys=[c.key for c in candidates]
    )
    return LLMRouter(candidates, settings, **kwargs)


def ask(text: str, **kwargs: Any) -> Any:
    return profile_request([HumanMessage(text)], {}, **kwargs)


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("Write a Python function that reverses a linked list", TaskKind.CODE),
        ("Why does this fail?\n```py\nx = 1/0\n```", TaskKind.CODE),
        ("Extract every date from this contract", TaskKind.EXTRACTION),
        ("Return the invoice fields as JSON", TaskKind.EXTRACTION),
        ("Why is the sky blue? Explain step by step", TaskKind.REASONING),
        ("What is 17 * 23?", TaskKind.REASONING),
        ("Hello! How are you today?", TaskKind.CHAT),
    ],
)
def test_the_task_is_inferred_by_the_documented_rules(text: str, task: TaskKind) -> None:
    assert infer_task(text) is task


def test_a_question_after_a_long_document_is_read_from_its_end() -> None:
    assert infer_task("lorem ipsum " * 10_000 + "\nExtract every date from the text above") is (
        TaskKind.EXTRACTION
    )


def test_a_code_task_goes_to_the_entry_good_at_code() -> None:
    decision = router().route(ask("Fix the bug in this function: def f(x): return x +"))
    assert decision.entry_key == "claude"
    assert decision.profile.task is TaskKind.CODE
    assert "code task (inferred)" in decision.reason


def test_a_cost_optimized_chat_goes_to_the_cheapest_entry() -> None:
    decision = router({"optimize": "cost"}).route(ask("Hi there, tell me a joke"))
    assert decision.entry_key == "local"  # free
    assert decision.chain[0] == "local" and set(decision.chain) == {"claude", "mini", "local"}


def test_a_private_request_only_goes_to_local_entries() -> None:
    decision = router().route(ask("Summarise my medical record", privacy="local"))
    assert decision.chain == ("local",)
    excluded = {c.entry: c.excluded for c in decision.candidates if c.excluded}
    assert excluded["claude"] == "the request is private and this entry is not local"


def test_a_request_too_long_for_a_window_skips_that_entry() -> None:
    decision = router().route(ask("word " * 40_000))
    assert "local" not in decision.chain
    excluded = {c.entry: c.excluded for c in decision.candidates if c.excluded}
    assert "its window is 8,192" in (excluded["local"] or "")


def test_a_request_with_images_needs_a_model_that_sees() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    profile = profile_request(
        [HumanMessage(content=[{"type": "text", "text": "what is this"}, image])], {}
    )
    decision = router().route(profile)
    assert profile.vision and "local" not in decision.chain


def test_tool_calls_in_the_conversation_count_as_needing_tools() -> None:
    messages = [
        HumanMessage("weather?"),
        AIMessage("", tool_calls=[{"name": "w", "args": {}, "id": "1"}]),
        ToolMessage("sunny", tool_call_id="1"),
    ]
    assert profile_request(messages, {}).tools


def test_a_rule_restricts_and_prefers_entries() -> None:
    routing = {
        "rules": [
            {
                "name": "extraction cheap",
                "when": {"task": "extraction"},
                "entries": ["mini", "local"],
                "prefer": ["mini"],
            }
        ]
    }
    decision = router(routing).route(ask("Extract the names from this text"))
    assert decision.chain == ("mini", "local")
    assert decision.rules == ("extraction cheap",)
    assert "preferred by rule" in decision.reason


def test_a_cost_ceiling_leaves_out_entries_that_would_cost_more() -> None:
    routing = {"rules": [{"name": "cheap", "when": {}, "maxCostUsd": 0.001}]}
    decision = router(routing).route(ask("x " * 1000))
    assert "claude" not in decision.chain
    excluded = {c.entry: c.excluded for c in decision.candidates if c.excluded}
    assert "above the $0.001 ceiling" in (excluded["claude"] or "")


def test_an_open_circuit_leaves_the_entry_out_with_its_reason() -> None:
    decision = router(availability=lambda key: "circuit open" if key == "claude" else None).route(
        ask("Write a function that sorts a list")
    )
    assert decision.entry_key != "claude"
    assert ("claude", "circuit open") in {(c.entry, c.excluded) for c in decision.candidates}
    assert [c.entry for c in decision.candidates if c.unavailable] == ["claude"]


def test_observed_errors_and_slowness_rank_an_entry_down() -> None:
    book = PerformanceBook()
    for _ in range(20):
        book.record("claude", latency_ms=9000, ok=False, cost_usd=None)
        book.record("mini", latency_ms=300, ok=True, cost_usd=0.001)
    decision = router(performance=book).route(ask("Write a function that sorts a list"))
    assert decision.entry_key == "mini"


def test_nothing_eligible_says_why_for_each_entry() -> None:
    profile = ask("private", privacy="local")
    decision = router(availability=lambda key: "circuit open").route(profile)
    assert decision.entry_key is None
    assert "local (circuit open)" in decision.reason
    assert "claude (the request is private" in decision.reason


def test_the_design_documents_retry_setting_is_read() -> None:
    settings = RoutingSettings.from_dict({"retry": {"maxRetries": 4}})
    assert settings.retry.max_retries == 4


def test_the_fallback_chain_limits_and_orders_the_entries() -> None:
    r = router({"fallbackChain": ["mini", "claude"]})
    assert [c.key for c in r.candidates] == ["mini", "claude"]
    assert r.fallback_model() == "mini"
    assert r.fallback_model(after="mini") == "claude"


def test_the_design_documents_methods_answer_from_the_same_decision() -> None:
    r = router()
    assert r.route_request("Write a function to parse CSV").entry_key == "claude"
    assert r.route_request("hello", {"privacy": "local"}).entry_key == "local"
    assert r.get_best_model("local") == "local"
    assert r.get_best_model("code") == "claude"
    r.record("mini", latency_ms=120.0, ok=True, cost_usd=0.002)
    assert r.track_model_performance()["mini"]["calls"] == 1


@pytest.mark.parametrize(
    ("routing", "message"),
    [
        ({"rules": [{"name": "a", "entries": ["nope"]}]}, "routing.rules[0] names 'nope'"),
        ({"fallbackChain": ["ghost"]}, "routing.fallbackChain names 'ghost'"),
        ({"optimize": "fastest"}, "routing.optimize"),
        ({"rules": [{"name": "a", "when": {"task": "poetry"}}]}, "routing.rules.0.when.task"),
        ({"rules": [{"name": "a"}, {"name": "a"}]}, "rule names must differ: a"),
        ({"circuitBreaker": {"failureThreshold": 0}}, "failureThreshold"),
        ({"colour": "red"}, "routing.colour: is not a routing setting"),
        ({"retry": {"maxRetries": 11}}, "routing.retry.maxRetries"),
    ],
)
def test_invalid_routing_settings_are_clear_errors(routing: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("$", r"\$")):
        RoutingSettings.from_dict(routing, entry_keys=["claude", "mini", "local"])


def test_an_entrys_max_tokens_caps_the_output_its_estimates_assume() -> None:
    capped = {**ENTRIES[0], "configuration": {**ENTRIES[0]["configuration"], "maxTokens": 64}}
    document = AIConfigDocument({"llm": [capped, ENTRIES[0] | {"modelKey": "open"}]}, "r1")
    (short, long), _ = candidates_of(document)

    assert short.estimated_tokens(1000, 500) == 1064
    assert long.estimated_tokens(1000, 500) == 1500
    short_cost, long_cost = short.estimated_cost(1000, 500), long.estimated_cost(1000, 500)
    assert short_cost is not None and long_cost is not None
    # claude-sonnet-4-6: $3 per million input tokens, $15 per million output tokens
    assert short_cost == pytest.approx((1000 * 3 + 64 * 15) / 1e6)
    assert long_cost == pytest.approx((1000 * 3 + 500 * 15) / 1e6)
