"""The aiconfigs document the demo starts from: one entry per kind of provider.

The Anthropic entry is the one the demo's traffic drives: it points at the local
sandbox (``baseUrl``) with a key the sandbox is started to accept. The OpenAI and
Ollama entries are never called; they show other providers' capability hints.
"""

from __future__ import annotations

from typing import Any

from llmopt import redact
from llmopt.config import ACTION_UPDATE, load_document
from llmopt.store import AuditEvent, DocumentName, Store

DEMO_ACTOR = "demo"
DEMO_SANDBOX_PORT = 8765
DEMO_API_KEY = "sk-ant-demo-not-a-real-key-7f3a9c"
DEMO_ENTRY_KEY = "anthropic:claude-sonnet-4-6"
"""The entry the traffic generator drives (``provider:model``)."""
DEMO_OTHER_ENTRY_KEY = "openAI:gpt-4o-mini"
DEMO_AB_TEST = "sonnet-vs-4o-mini"
"""The demo document's A/B test; its answers are demo data (``console.demo.quality``)."""


def sandbox_url(port: int) -> str:
    """Where the demo's sandbox answers, as the Anthropic entry's ``baseUrl``."""
    return f"http://127.0.0.1:{port}"


DEMO_AICONFIGS: dict[str, Any] = {
    "llm": [
        {
            "provider": "anthropic",
            "isDefault": True,
            "configuration": {
                "model": "claude-sonnet-4-6",
                "apiKey": DEMO_API_KEY,
                "baseUrl": sandbox_url(DEMO_SANDBOX_PORT),
                "temperature": 0.2,
                "maxTokens": 300,
                "optimizationEnabled": True,
                "cachingEnabled": True,
                "cacheTTL": 300,
                "batchingEnabled": True,
                "batchMaxSize": 500,
                "batchTimeout": 10,
            },
        },
        {
            "provider": "openAI",
            "isDefault": False,
            "configuration": {"model": "gpt-4o-mini", "apiKey": "sk-demo-openai-not-real-51be"},
        },
        {
            "provider": "ollama",
            "isDefault": False,
            "configuration": {"model": "llama3.1", "baseUrl": "http://127.0.0.1:11434"},
        },
    ],
    "embedding": [{"provider": "openAI", "configuration": {"model": "text-embedding-3-small"}}],
    "quality": {
        "enabled": True,
        "passThreshold": 0.7,
        "degradation": {"windowMinutes": 60, "baselineHours": 24, "drop": 0.1, "minSamples": 20},
        "abTests": [
            {
                "name": DEMO_AB_TEST,
                "entries": [DEMO_ENTRY_KEY, DEMO_OTHER_ENTRY_KEY],
                "share": 0.1,
                "metric": "score",
                "minSamples": 100,
            }
        ],
    },
}


def point_at_sandbox(store: Store, url: str) -> bool:
    """Make the demo entry's ``baseUrl`` ``url`` (an audited write); whether it changed.

    A demo started with another ``--sandbox-port`` than last time must reach its
    sandbox, so this runs on every start; the entry's flags are left as they are.
    Raises ``RecordNotFound`` when the document has no demo entry (someone removed it).
    """
    document = load_document(store)
    entry = document.entry(DEMO_ENTRY_KEY)
    before = dict(entry.configuration or {})
    if before.get("baseUrl") == url:
        return False
    after = {**before, "baseUrl": url}
    assert document.revision is not None  # the entry was found, so the document exists
    store.write_document(
        DocumentName.AI_CONFIG,
        document.body_with_configuration(DEMO_ENTRY_KEY, after),
        expected_revision=document.revision,
        audit=AuditEvent(
            actor=DEMO_ACTOR,
            action=ACTION_UPDATE,
            target=f"llm:{DEMO_ENTRY_KEY}",
            before=redact(before),
            after=redact(after),
            reason="demo: point the Anthropic entry at the local sandbox",
        ),
    )
    return True
