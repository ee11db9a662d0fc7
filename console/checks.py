"""System checks: catch settings that would fail later, at start-up instead."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


@register()
def check_store_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not settings.ARANGO_URL:
        folder = Path(settings.LLMOPT_SQLITE_PATH).expanduser().resolve().parent
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            messages.append(
                Error(
                    f"the llmopt store cannot be created in {folder}: "
                    f"{existing} is not a writable folder",
                    hint="set LLMOPT_SQLITE_PATH to a writable place, or ARANGO_URL",
                    id="console.E001",
                )
            )
    elif not settings.ARANGO_PASSWORD:
        messages.append(
            Warning(
                "ARANGO_URL is set but ARANGO_PASSWORD is empty",
                hint="production ArangoDB servers should require a password",
                id="console.W001",
            )
        )
    return messages


@register(deploy=True)
def check_secret_key_is_set(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    public = set(settings.ALLOWED_HOSTS) - _LOCAL_HOSTS
    if public and not os.environ.get("DJANGO_SECRET_KEY"):
        return [
            Warning(
                "the console serves non-local hosts with a generated secret key",
                hint="set DJANGO_SECRET_KEY so every instance signs sessions alike",
                id="console.W002",
            )
        ]
    return []
