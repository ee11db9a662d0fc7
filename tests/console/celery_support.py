"""Helpers shared by the console's Celery tests: brokers in a tmp folder, a sandbox entry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console.celery import app as celery_app
from llmopt.batching import BatchRequest
from llmopt.sandbox import SandboxServer
from llmopt.store import AuditEvent, BatchRecord, DocumentName, Store
from llmopt.wrapper import batch_client_for_entry

MODEL = "claude-sonnet-4-6"
ENTRY = "main"


def use_broker(monkeypatch: pytest.MonkeyPatch, url: str, options: dict[str, Any]) -> None:
    """Point the Celery app's new connections at this broker for one test."""
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", options)


def seed_sandbox_entry(store: Store, sandbox: SandboxServer) -> None:
    """An aiconfigs document whose ``main`` entry is an Anthropic account on the sandbox."""
    body: dict[str, Any] = {
        "llm": [
            {
                "provider": "anthropic",
                "modelKey": ENTRY,
                "isDefault": True,
                "configuration": {
                    "model": MODEL,
                    "apiKey": sandbox.api_key,
                    "baseUrl": sandbox.base_url,
                    "maxRetries": 0,
                    "optimizationEnabled": True,
                    "batchingEnabled": True,
                },
            }
        ]
    }
    store.write_document(
        DocumentName.AI_CONFIG,
        body,
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )


def submit_batch(store: Store, prompts: list[str]) -> BatchRecord:
    """Create one sandbox batch through the real batch client, without waiting for it.

    The submitting client's clock runs five minutes behind, as if a producer had
    submitted the batch and moved on that long ago: a fresh submit's claim would
    otherwise (rightly) keep pollers off the record for the claim's lifetime.
    """

    def earlier() -> datetime:
        return datetime.now(UTC) - timedelta(minutes=5)

    async def submit() -> list[BatchRecord]:
        client = batch_client_for_entry(store, ENTRY, clock=earlier)
        try:
            return await client.submit(
                [
                    BatchRequest({"max_tokens": 16, "messages": [{"role": "user", "content": p}]})
                    for p in prompts
                ]
            )
        finally:
            await client.aclose()

    (record,) = asyncio.run(submit())
    return record
