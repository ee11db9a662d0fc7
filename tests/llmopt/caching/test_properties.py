from __future__ import annotations

import copy
import threading
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmopt.caching import BREAKPOINT_LITERAL, CachePlan, PrefixMemory, plan_breakpoints

from .conftest import FakeClock, config, marker_sites, ttl_order_is_valid, words

LONG = words(600, "long")  # above the 512-token minimum of the newest models on its own
texts = st.sampled_from(
    [
        "",
        "  ",
        "short",
        LONG,
        f"a{BREAKPOINT_LITERAL}b",
        f"{LONG}{BREAKPOINT_LITERAL}tail",
        BREAKPOINT_LITERAL,
        f"{BREAKPOINT_LITERAL} {LONG}{BREAKPOINT_LITERAL}",
    ]
)
markers = st.sampled_from(
    [
        {"type": "ephemeral"},
        {"type": "ephemeral", "ttl": "5m"},
        {"type": "ephemeral", "ttl": "1h"},
    ]
)
text_blocks = st.builds(lambda text: {"type": "text", "text": text}, texts)
images = st.just(
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}
)
documents = st.builds(
    lambda text: {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": text},
    },
    texts,
)
tool_uses = st.builds(
    lambda n, code: {
        "type": "tool_use",
        "id": f"toolu_{n}",
        "name": "lookup",
        "input": {"id": n},
        **({"caller": {"type": "code_execution_20250825", "tool_id": "srv"}} if code else {}),
    },
    st.integers(0, 3),
    st.booleans(),
)
tool_results = st.builds(
    lambda n, content: {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": content},
    st.integers(0, 3),
    texts | st.lists(text_blocks | images, max_size=3),
)
thinking = st.just({"type": "thinking", "thinking": "considering", "signature": "sig"})
redacted = st.just({"type": "redacted_thinking", "data": "opaque"})
server_blocks = st.sampled_from(
    [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
    ]
)
user_content = texts | st.lists(
    text_blocks | images | documents | tool_results, min_size=1, max_size=4
)
assistant_content = texts | st.lists(
    text_blocks | tool_uses | thinking | redacted | server_blocks, min_size=1, max_size=4
)


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 8))
    return [
        {"role": "user", "content": draw(user_content)}
        if n % 2 == 0
        else {"role": "assistant", "content": draw(assistant_content)}
        for n in range(count)
    ]


tools = st.lists(
    st.builds(
        lambda n, description: {
            "name": f"tool_{n}",
            "description": description,
            "input_schema": {"type": "object"},
        },
        st.integers(0, 99),
        st.sampled_from(["short", LONG]),
    ),
    max_size=3,
)
systems = st.none() | texts | st.lists(text_blocks, min_size=1, max_size=3)


def _marker_homes(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object that could hold a caller's cache_control, allowed or not."""
    homes: list[dict[str, Any]] = [payload, *payload.get("tools", [])]
    if isinstance(payload.get("system"), list):
        homes += payload["system"]
    for message in payload["messages"]:
        if isinstance(message["content"], list):
            for block in message["content"]:
                homes.append(block)
                if block["type"] == "tool_result" and isinstance(block["content"], list):
                    homes += block["content"]
    return homes


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": draw(conversations())}
    system = draw(systems)
    if system is not None:
        payload["system"] = system
    drawn_tools = draw(tools)
    if drawn_tools:
        payload["tools"] = drawn_tools
    payload = copy.deepcopy(payload)  # every block its own object, as a real request has
    homes = _marker_homes(payload)
    chosen = draw(st.lists(st.integers(0, len(homes) - 1), max_size=6, unique=True))
    for index in chosen:
        homes[index]["cache_control"] = draw(markers)
    return payload


def _code_execution_blocks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Calls made by code execution, and the results that answer them (after them)."""
    ids: set[str] = set()
    found: list[dict[str, Any]] = []
    for message in payload["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if block.get("type") == "tool_use" and "caller" in block:
                ids.add(block["id"])
                found.append(block)
            elif block.get("type") == "tool_result" and block["tool_use_id"] in ids:
                found.append(block)
    return found


def _texts(payload: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def visit(content: Any) -> None:
        if isinstance(content, str):
            found.append(content)
        elif isinstance(content, list):
            for block in content:
                if block.get("type") == "text":
                    found.append(block["text"])
                elif block.get("type") == "tool_result":
                    visit(block.get("content"))

    visit(payload.get("system"))
    for message in payload["messages"]:
        visit(message["content"])
    return found


def _assert_valid(result: CachePlan, *, manual: bool) -> None:
    sites = marker_sites(result.payload)
    assert len(sites) <= 4
    assert [where for where, _, _ in sites] == [b.location for b in result.breakpoints]
    assert ttl_order_is_valid(result.payload)
    code_execution = [id(block) for block in _code_execution_blocks(result.payload)]
    for _, _, block in sites:
        if block is None:
            continue  # the top-level cache_control
        assert block.get("type") not in ("thinking", "redacted_thinking")
        if block.get("type") == "text":
            assert block["text"].strip()
        assert id(block) not in code_execution
    if manual:
        assert not any(BREAKPOINT_LITERAL in text for text in _texts(result.payload))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=requests(),
    mode=st.sampled_from(["auto", "system_only", "manual"]),
    ttl=st.sampled_from([300, 3600]),
    model=st.sampled_from(["claude-opus-5", "claude-sonnet-4-5"]),
)
def test_every_plan_is_a_request_the_api_accepts_and_leaves_the_input_alone(
    payload: dict[str, Any], mode: str, ttl: int, model: str
) -> None:
    snapshot = copy.deepcopy(payload)
    memory = PrefixMemory()
    options = {"model": model, "config": config(cacheBreakpoints=mode, cacheTTL=ttl)}

    first = plan_breakpoints(payload, memory=memory, **options)
    again = plan_breakpoints(payload, memory=memory, **options)  # now a known request

    assert payload == snapshot
    for result in (first, again):
        _assert_valid(result, manual=mode == "manual")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=st.lists(
        st.tuples(requests(), st.sampled_from([0, 30, 301, 900, 3601])), min_size=1, max_size=6
    ),
    ttl=st.sampled_from([300, 3600, "auto"]),
    system_ttl=st.sampled_from([None, 3600]),
)
def test_whatever_the_history_every_plan_is_valid(
    history: list[tuple[dict[str, Any], int]], ttl: Any, system_ttl: int | None
) -> None:
    clock = FakeClock()
    memory = PrefixMemory(clock=clock, capacity=8)  # small, so eviction happens too
    options = {
        "model": "claude-sonnet-4-5",
        "config": config(cacheTTL=ttl, cacheSystemTTL=system_ttl),
        "memory": memory,
    }
    for payload, pause in history:
        clock.advance(pause)
        for _ in range(2):  # once new, once known
            result = plan_breakpoints(payload, **options)
            _assert_valid(result, manual=False)
            assert min(result.unread_write_tokens_5m, result.missed_read_tokens) >= 0


PROMPT = words(1_200, "prompt")  # above the 1,024-token minimum of claude-sonnet-4-5


@settings(max_examples=150, deadline=None)
@given(
    # Each earlier request: one of 3 recurring system prompts, or a one-off (None); a
    # pause before it; and whether its turn opens with one of 3 recurring documents.
    history=st.lists(
        st.tuples(st.sampled_from([0, 1, 2, None]), st.sampled_from([0, 60, 400]), st.booleans()),
        max_size=30,
    ),
    document_first=st.booleans(),
)
def test_a_never_seen_prefix_is_written_only_when_the_learned_odds_make_it_pay(
    history: list[tuple[int | None, int, bool]], document_first: bool
) -> None:
    clock = FakeClock()
    memory = PrefixMemory(clock=clock)
    options = {"model": "claude-sonnet-4-5", "config": config(), "memory": memory}
    for n, (prompt, pause, with_document) in enumerate(history):
        clock.advance(pause)
        system = f"{prompt if prompt is not None else f'one-off {n}'} {PROMPT}"
        question = {"type": "text", "text": f"question {n}"}
        content = [question]
        if with_document:
            content.insert(0, {"type": "text", "text": f"document {n % 3} {PROMPT}"})
        plan_breakpoints(
            {
                "model": "m",
                "max_tokens": 9,
                "system": system,
                "messages": [{"role": "user", "content": content}],
            },
            **options,
        )
    static_odds, inner_odds = memory.odds("static"), memory.odds("inner")
    content = [{"type": "text", "text": "never seen?"}]
    if document_first:
        content.insert(0, {"type": "text", "text": f"a new document {PROMPT}"})

    result = plan_breakpoints(
        {
            "model": "m",
            "max_tokens": 9,
            "system": f"a new prompt {PROMPT}",
            "messages": [{"role": "user", "content": content}],
        },
        **options,
    )

    marked = {b.location for b in result.breakpoints}
    assert ("system[0]" in marked) == (static_odds * 0.9 > 0.25)
    assert ("messages[0].content[0]" in marked) == (document_first and inner_odds * 0.9 > 0.25)
    assert "messages[0].content[1]" not in marked and "messages[0].content[0]" not in (
        marked if not document_first else set()
    )


def test_memory_stays_consistent_under_many_threads() -> None:
    memory = PrefixMemory(capacity=64, shared=True)
    other = PrefixMemory(shared=True)
    for n in range(20):
        other.sighting(n, ttl=300)
    errors: list[BaseException] = []

    def hammer(offset: int) -> None:
        try:
            for n in range(400):
                fingerprint = offset * 1_000 + n % 50
                memory.sighting(fingerprint, ttl=300, kind=("static", "inner")[n % 2])
                memory.record(cached=[(fingerprint, 300.0, 100)], seen=[fingerprint + 1])
                memory.latest([fingerprint, fingerprint + 1], 0, 2)
                memory.take_unread()
                if n % 50 == 0:
                    memory.merge(f"process {offset}", other.export())
                    memory.export()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(memory) <= 64
    assert 0.0 < memory.odds("static") < 1.0 and 0.0 < memory.odds("inner") < 1.0
