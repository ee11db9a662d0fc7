from __future__ import annotations

from typing import Any

import pytest

from llmopt.batching import BatchRequest
from llmopt.errors import ConfigError, RecordNotFound
from llmopt.sandbox import SandboxServer
from llmopt.store import AuditEvent, DocumentName, SQLiteStore, Store
from llmopt.wrapper import batch_client_for_entry

from .conftest import MODEL


def seed(store: Store, sandbox: SandboxServer) -> None:
    body: dict[str, Any] = {
        "llm": [
            {
                "provider": "anthropic",
                "modelKey": "main",
                "configuration": {
                    "model": MODEL,
                    "apiKey": sandbox.api_key,
                    "baseUrl": sandbox.base_url,
                    "maxRetries": 0,
                },
            },
            {"provider": "ollama", "modelKey": "local", "configuration": {"model": "llama3.1"}},
        ]
    }
    store.write_document(
        DocumentName.AI_CONFIG,
        body,
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )


def test_the_client_reaches_the_entrys_account_and_records_under_its_key(
    sandbox: SandboxServer,
) -> None:
    store = SQLiteStore(":memory:")
    seed(store, sandbox)
    client = batch_client_for_entry(store, "main", poll_initial=0.01, poll_max=0.05)
    try:
        request = {"max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
        outcomes = client.run_sync([BatchRequest(request)])
    finally:
        client.close()
    assert [o.source for o in outcomes] == ["batch"]
    assert outcomes[0].message is not None and outcomes[0].message["model"] == MODEL
    (record,) = store.list_batches(entry_key="main")
    assert record.provider_batch_id is not None
    assert sandbox.billing().total.batch_requests_succeeded == 1


def test_entries_without_batches_and_unknown_entries_are_refused(sandbox: SandboxServer) -> None:
    store = SQLiteStore(":memory:")
    seed(store, sandbox)
    with pytest.raises(ConfigError, match="not an Anthropic entry"):
        batch_client_for_entry(store, "local")
    with pytest.raises(RecordNotFound):
        batch_client_for_entry(store, "nope")
