from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from langchain_anthropic import ChatAnthropic

from llmopt.killswitch import release_kill_switch
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.store import AuditEvent, DocumentName, Store
from llmopt.wrapper import OptimizedLLMWrapper

S = TypeVar("S", bound=Store)

MODEL = "claude-sonnet-4-6"  # minimum cacheable prefix 1,024 tokens; 4.5 is deprecated
CACHING = {"optimizationEnabled": True, "cachingEnabled": True}


def words(count: int, word: str = "policy") -> str:
    """Text the sandbox counts as ``count`` tokens."""
    return " ".join([word] * count)


SYSTEM = words(2_000)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def chat(sandbox: SandboxServer, **options: Any) -> ChatAnthropic:
    settings: dict[str, Any] = {"max_tokens": 64, "max_retries": 0, **options}
    return ChatAnthropic(  # type: ignore[call-arg]
        model=MODEL, base_url=sandbox.base_url, api_key=sandbox.api_key, **settings
    )


def wrap(base: ChatAnthropic, **flags: Any) -> OptimizedLLMWrapper:
    return OptimizedLLMWrapper(base, "anthropic", {**CACHING, **flags})


def seeded(store: S, *entries: dict[str, Any]) -> S:
    """``store`` holding ``entries`` as its LLM entries, kill switch released: ready to be
    followed by a wrapper."""
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": list(entries)},
        expected_revision=None,
        audit=AuditEvent(actor="t", action="seed", target="aiconfigs"),
    )
    release_kill_switch(store, actor="t")
    return store
