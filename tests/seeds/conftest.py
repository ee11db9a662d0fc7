"""The design documents' compatibility suite: their code and checklists, run against llmopt.

Each test runs a code example of the migration guide (``guide.py`` holds its code) or
a test named in the Phase 1 plan and checklist, adapted only in its imports and its
endpoint: the provider is the sandbox (``baseUrl`` and ``apiKey`` in the entry's
configuration, where the guide has ``sk-ant-...``), and ArangoDB is the SQLite store
holding the same ``aiconfigs`` document. Each asserts what the document promises; where
a promise cannot hold under the provider's real rules, the test says so and asserts
what llmopt does instead.

The guide's model, ``claude-sonnet-4-5-20250929``, is past its announced end of life
(2026-11-30): the ``anthropic`` SDK warns on every call with it, and that one warning is
let through here; every other warning is still an error.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmopt.config import load_document
from llmopt.sandbox import SandboxServer, running_sandbox
from llmopt.store import AuditEvent, DocumentName, SQLiteStore

GUIDE_MODEL = "claude-sonnet-4-5-20250929"
GUIDE_KEY = f"anthropic:{GUIDE_MODEL}"

# The guide's Step 1 entry, as it shows it (its comments aside).
STEP_1_ENTRY: dict[str, Any] = {
    "_key": "anthropic_config",
    "provider": "anthropic",
    "isDefault": True,
    "configuration": {"apiKey": "sk-ant-...", "model": GUIDE_MODEL},
    "optimization": {
        "cache": {
            "enabled": False,
            "min_tokens_to_cache": 1024,
            "auto_detect_cacheable": True,
            "default_ttl_seconds": 300,
        },
        "fallback": {"enabled": True, "log_failures": True},
        "provider": "anthropic",
    },
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    deprecated = pytest.mark.filterwarnings(
        f"ignore:The model '{GUIDE_MODEL}' is deprecated:DeprecationWarning"
    )
    for item in items:
        if "tests/seeds/" in str(item.path).replace("\\", "/"):
            item.add_marker(deprecated)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def at_sandbox(entry: dict[str, Any], sandbox: SandboxServer) -> dict[str, Any]:
    """``entry`` with its endpoint adapted: the sandbox's URL and key."""
    adapted = copy.deepcopy(entry)
    adapted["configuration"] |= {"apiKey": sandbox.api_key, "baseUrl": sandbox.base_url}
    return adapted


@pytest.fixture
def store(tmp_path: Path, sandbox: SandboxServer) -> SQLiteStore:
    """The ``aiconfigs`` document holding the guide's Step 1 entry (pointed at the sandbox)."""
    store = SQLiteStore(tmp_path / "llmopt.sqlite3")
    store.write_document(
        DocumentName.AI_CONFIG,
        {"llm": [at_sandbox(STEP_1_ENTRY, sandbox)]},
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )
    return store


def load_test_config(store: SQLiteStore, key: str = GUIDE_KEY) -> dict[str, Any]:
    """The entry as a backend reads it from the database: the stored dict, untouched."""
    document = load_document(store)
    return copy.deepcopy(document.body["llm"][document.entry(key).index])


def edit_entry(store: SQLiteStore, change: Any, key: str = GUIDE_KEY) -> None:
    """Change the stored entry in place, as an admin editing the database would."""
    document = store.read_document(DocumentName.AI_CONFIG)
    assert document is not None
    body = copy.deepcopy(document.body)
    change(body["llm"][load_document(store).entry(key).index])
    store.write_document(
        DocumentName.AI_CONFIG,
        body,
        expected_revision=document.revision,
        audit=AuditEvent(actor="dba", action="edit", target="aiconfigs"),
    )


def words(count: int, word: str = "clause") -> str:
    """Text the sandbox counts as ``count`` tokens."""
    return " ".join([word] * count)
