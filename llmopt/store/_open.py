"""Choosing and opening a store from a URL or from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from llmopt.errors import StoreError
from llmopt.store._protocol import Store
from llmopt.store._sqlite import SQLiteStore

_SQLITE_PREFIX = "sqlite:///"
_ACCEPTED = "sqlite:///relative/path.db, sqlite:////absolute/path.db or sqlite:///:memory:"
DEFAULT_SQLITE_PATH = "var/llmopt.sqlite3"
DRIVER_MISSING = (
    "ArangoStore needs python-arango, which llmopt installs with its 'arango' extra: "
    "pip install 'llmopt[arango]'"
)


def open_store(url: str) -> Store:
    """Open the SQLite store a URL names; use it for tools and tests that take a URL.

    ======================================  ==============================
    URL                                     store
    ======================================  ==============================
    ``sqlite:///:memory:``                  a private in-memory database
    ``sqlite:///var/llmopt.sqlite3``        a file relative to the cwd
    ``sqlite:////srv/llmopt/store.db``      a file at an absolute path
    ======================================  ==============================

    ArangoDB URLs are refused because ArangoDB also needs credentials: use
    ``store_from_env``. Raises ``StoreError`` for any other URL, or when the file
    cannot be opened.
    """
    if url.startswith(("http://", "https://")):
        raise StoreError(
            "open_store() does not open ArangoDB (it needs credentials): set ARANGO_URL, "
            "ARANGO_DB, ARANGO_USERNAME and ARANGO_PASSWORD and call store_from_env()"
        )
    path = url[len(_SQLITE_PREFIX) :] if url.startswith(_SQLITE_PREFIX) else ""
    if not path:
        raise StoreError(f"cannot open store URL {url!r}: expected {_ACCEPTED}")
    return SQLiteStore(path)


def store_from_env(env: Mapping[str, str] | None = None) -> Store:
    """The store this process is configured for: what services call at start-up.

    =====================  ==============================================  =============
    variable               meaning                                         default
    =====================  ==============================================  =============
    ``ARANGO_URL``         use ArangoDB at this URL (comma-separated ok)   unset: SQLite
    ``ARANGO_DB``          database name                                   ``_system``
    ``ARANGO_USERNAME``    user                                            ``root``
    ``ARANGO_PASSWORD``    password                                        empty
    ``LLMOPT_SQLITE_PATH`` SQLite file when ``ARANGO_URL`` is unset        ``var/llmopt.sqlite3``
    =====================  ==============================================  =============

    ``env`` defaults to ``os.environ``. The SQLite file's parent directories are
    created (the last one owner-only, as the file is: it holds the API keys). Raises
    ``StoreError`` when the store cannot be opened, or ``ARANGO_URL`` is set and
    python-arango (the ``arango`` extra) is not installed.
    """
    env = os.environ if env is None else env
    url = env.get("ARANGO_URL", "").strip()
    if url:
        try:  # the driver loads only when ArangoDB is the store
            from llmopt.store._arango import ArangoStore
        except ModuleNotFoundError as exc:
            if exc.name != "arango":
                raise
            raise StoreError(f"ARANGO_URL is set, but {DRIVER_MISSING}") from exc
        return ArangoStore.connect(
            url,
            database=env.get("ARANGO_DB") or "_system",
            username=env.get("ARANGO_USERNAME") or "root",
            password=env.get("ARANGO_PASSWORD", ""),
        )
    path = Path(env.get("LLMOPT_SQLITE_PATH") or DEFAULT_SQLITE_PATH)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the directory for SQLite store {path}: {exc}") from exc
    return SQLiteStore(path)
