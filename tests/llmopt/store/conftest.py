from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llmopt.store import ArangoCollections, ArangoStore, SQLiteStore, Store

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock that moves only when told to, safe to read from many threads."""

    def __init__(self, now: datetime = START) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(
    params=[
        "sqlite-memory",
        "sqlite-file",
        pytest.param("arango", marks=pytest.mark.arango),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Store]:
    """Each store adapter, fresh and empty, with the test's clock."""
    if request.param == "sqlite-memory":
        opened: Store = SQLiteStore(":memory:", clock=clock)
    elif request.param == "sqlite-file":
        opened = SQLiteStore(tmp_path / "store.sqlite3", clock=clock)
    else:
        yield from _arango_store(clock)
        return
    yield opened
    opened.close()


def _arango_store(clock: Clock) -> Iterator[Store]:
    url = os.environ.get("ARANGO_URL")
    if not url:
        pytest.skip("ArangoDB contract tests need a server: set ARANGO_URL (and ARANGO_DB, ...)")
    from arango import ArangoClient

    username = os.environ.get("ARANGO_USERNAME", "root")
    password = os.environ.get("ARANGO_PASSWORD", "")
    database = os.environ.get("ARANGO_DB", "llmopt_test")
    client = ArangoClient(hosts=url)
    system = client.db("_system", username=username, password=password)
    if not system.has_database(database):
        system.create_database(database)
    db = client.db(database, username=username, password=password)
    names = ArangoCollections.with_prefix(f"t{uuid.uuid4().hex[:10]}_")
    opened = ArangoStore(db, clock=clock, collections=names)
    try:
        yield opened
    finally:
        opened.close()
        for name in astuple(names):
            if db.has_collection(name):
                db.delete_collection(name)
        client.close()
