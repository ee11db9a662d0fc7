"""The one llmopt store this console process uses, built from settings."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from llmopt.store import Store, store_from_env

_STORE_SETTINGS = (
    "LLMOPT_SQLITE_PATH",
    "ARANGO_URL",
    "ARANGO_DB",
    "ARANGO_USERNAME",
    "ARANGO_PASSWORD",
)


@cache
def get_store() -> Store:
    """The store named by the settings: ArangoDB when ``ARANGO_URL`` is set, else SQLite."""
    return store_from_env({name: getattr(settings, name) for name in _STORE_SETTINGS})


@receiver(setting_changed)
def _forget_store(*, setting: str, **_: Any) -> None:
    if setting in _STORE_SETTINGS and get_store.cache_info().currsize:
        get_store().close()
        get_store.cache_clear()
