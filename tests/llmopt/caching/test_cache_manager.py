from __future__ import annotations

from llmopt.caching import CacheManager, PrefixMemory

from .conftest import MODEL, config, locations, request, user, words


def test_add_cache_markers_returns_the_planned_request() -> None:
    manager = CacheManager(config(), MODEL)
    payload = request([user("Hi")])

    marked = manager.add_cache_markers(payload)

    assert locations(marked) == ["system[0]"]
    assert "cache_control" not in payload["system"]


def test_a_manager_remembers_requests_across_calls() -> None:
    manager = CacheManager(config(), MODEL)
    payload = request([user(words(500, "same question"))])

    manager.add_cache_markers(payload)
    again = manager.add_cache_markers(payload)

    assert locations(again) == ["system[0]", "messages[0].content[0]"]


def test_a_manager_uses_the_memory_it_is_given() -> None:
    memory = PrefixMemory()
    manager = CacheManager(config(), MODEL, memory=memory)

    plan = manager.plan(request([user("Hi")]))

    assert manager.memory is memory
    assert len(memory) > 0
    assert [b.location for b in plan.breakpoints] == ["system[0]"]


def test_a_manager_with_caching_off_changes_nothing() -> None:
    manager = CacheManager(config(cachingEnabled=False), MODEL)
    payload = request([user("Hi")])

    assert manager.add_cache_markers(payload) is payload
