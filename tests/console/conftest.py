from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from console.batches.cancel import PROVIDER_CALLS
from console.store import get_store
from llmopt.store import AuditEvent, DocumentName, Store

SECRET = "sk-ant-console-test-secret-31337"

AICONFIGS: dict[str, Any] = {
    "llm": [
        {
            "provider": "anthropic",
            "isDefault": True,
            "configuration": {
                "model": "claude-sonnet-4-6",
                "apiKey": SECRET,
                "optimizationEnabled": True,
                "cachingEnabled": True,
            },
        },
        {"provider": "ollama", "configuration": {"model": "llama3.1"}},
    ]
}

# The migration guide's shapes: flags in the nested block beside the configuration, and an
# entry whose flat flag and block disagree (a problem: it gets no optimization).
NESTED_KEY = "guide-nested"
CONFLICTED_KEY = "guide-conflicted"
NESTED_AICONFIGS: dict[str, Any] = {
    "llm": [
        {
            "provider": "anthropic",
            "modelKey": NESTED_KEY,
            "configuration": {"model": "claude-sonnet-4-6", "apiKey": SECRET},
            "optimization": {
                "cache": {
                    "enabled": True,
                    "default_ttl_seconds": 300,
                    "min_tokens_to_cache": 1024,
                    "auto_detect_cacheable": True,
                },
                "fallback": {"enabled": True, "log_failures": True},
                "provider": "anthropic",
            },
        },
        {
            "provider": "anthropic",
            "modelKey": CONFLICTED_KEY,
            "configuration": {
                "model": "claude-haiku-4-5",
                "apiKey": SECRET,
                "optimizationEnabled": True,
                "cachingEnabled": True,
            },
            "optimization": {"cache": {"enabled": False}},
        },
    ]
}


@pytest.fixture
def store(settings: Any, tmp_path: Path) -> Iterator[Store]:
    settings.LLMOPT_SQLITE_PATH = str(tmp_path / "llmopt.sqlite3")
    settings.ARANGO_URL = ""
    settings.LLMOPT_BACKUP_DIR = tmp_path / "backups"
    yield get_store()
    PROVIDER_CALLS.wait(30)  # a cancel asks the provider on a thread: done before closing
    get_store().close()
    get_store.cache_clear()


def seed(store: Store, body: dict[str, Any] | None = None) -> None:
    store.write_document(
        DocumentName.AI_CONFIG,
        AICONFIGS if body is None else body,
        expected_revision=None,
        audit=AuditEvent(actor="test", action="seed", target="aiconfigs"),
    )


def user_in(django_user_model: Any, role: str | None) -> Any:
    user = django_user_model.objects.create_user(username=role or "outsider", password="pw-1")
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def signed_in(client: Client, django_user_model: Any) -> Client:
    """A client signed in as a viewer (read-only)."""
    client.force_login(user_in(django_user_model, "viewer"))
    return client


@pytest.fixture
def operator(client: Client, django_user_model: Any) -> Client:
    client.force_login(user_in(django_user_model, "operator"))
    return client


@pytest.fixture
def outsider(client: Client, django_user_model: Any) -> Client:
    """Signed in, but in no role."""
    client.force_login(user_in(django_user_model, None))
    return client
