"""The batch ledger as the batch client uses it: off the event loop, with claims.

A claim is the record's ``last_polled_at``, moved forward with compare-and-set. A
worker holds a record while the stamp it last wrote is still there; a stamp younger
than the claim lifetime written by someone else means a live worker is on the record,
so it is left alone. An older one is taken over: its holder died or stalled, and its
next compare-and-set fails, so at any moment one worker at most acts on a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from llmopt.store import BATCHES_IN_FLIGHT, BatchRecord, Store, StoredResult
from llmopt.store._records import as_utc

_T = TypeVar("_T")

_PAGE = 500
_TICK = timedelta(microseconds=1)


class Claims:
    """The stamps one caller (a ``run`` or a ``resume``) last wrote, by record id."""

    def __init__(self) -> None:
        self._stamps: dict[str, datetime] = {}

    def get(self, record_id: str) -> datetime | None:
        return self._stamps.get(record_id)

    def set(self, record_id: str, stamp: datetime) -> None:
        self._stamps[record_id] = stamp

    def drop(self, record_id: str) -> None:
        self._stamps.pop(record_id, None)


class Ledger:
    """Async access to the ``Store``'s batches and results, and the claim protocol."""

    def __init__(self, store: Store, clock: Callable[[], datetime], *, claim_ttl: float) -> None:
        self.store = store
        self._clock = clock
        self.claim_ttl = claim_ttl

    def now(self) -> datetime:
        return as_utc(self._clock())

    async def _call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        # Store adapters block (SQLite, HTTP to ArangoDB): keep the event loop free.
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    async def insert_unless_held(self, record: BatchRecord) -> dict[str, str]:
        return await self._call(self.store.insert_batch_unless_held, record)

    async def get(self, record_id: str) -> BatchRecord:
        return await self._call(self.store.get_batch, record_id)

    async def update(
        self,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        expect: Mapping[str, Any] | None = None,
    ) -> BatchRecord | None:
        return await self._call(self.store.update_batch, record_id, changes, expect=expect)

    async def unfinished(self, entry_key: str) -> list[BatchRecord]:
        """Every PENDING, IN_PROGRESS or CANCELING record of ``entry_key``, oldest first."""
        found: list[BatchRecord] = []
        offset = 0
        while True:
            page = await self._call(
                self.store.list_batches,
                statuses=BATCHES_IN_FLIGHT,
                entry_key=entry_key,
                limit=_PAGE,
                offset=offset,
            )
            found.extend(page)
            if len(page) < _PAGE:
                break
            offset += _PAGE
        unique = {r.id: r for r in found}
        return sorted(unique.values(), key=lambda r: (r.created_at, r.id))

    async def provider_ids_since(self, since: datetime) -> set[str]:
        """Provider batch ids of every record (any entry) created at or after ``since``."""
        ids: set[str] = set()
        offset = 0
        while True:
            page = await self._call(self.store.list_batches, limit=_PAGE, offset=offset)
            ids.update(r.provider_batch_id for r in page if r.provider_batch_id)
            if len(page) < _PAGE or page[-1].created_at < since:
                return ids
            offset += _PAGE

    async def get_results(self, fingerprints: list[str]) -> dict[str, StoredResult]:
        """The reusable results among ``fingerprints`` (unexpired now), by fingerprint."""
        now = self.now()

        def get_all() -> dict[str, StoredResult]:
            found: dict[str, StoredResult] = {}
            for fp in dict.fromkeys(fingerprints):
                result = self.store.get_result(fp, now=now)
                if result is not None:
                    found[fp] = result
            return found

        return await self._call(get_all)

    async def put_results(self, results: list[StoredResult]) -> None:
        def put_all() -> None:
            for result in results:
                self.store.put_result(result)

        await self._call(put_all)

    # -- claims --------------------------------------------------------------------

    def held_by_other(self, record: BatchRecord, claims: Claims) -> bool:
        """True when someone else stamped ``record`` less than the claim lifetime ago."""
        seen = record.last_polled_at
        if seen is None or seen == claims.get(record.id):
            return False
        return (self.now() - seen).total_seconds() < self.claim_ttl

    def next_stamp(self, previous: datetime | None) -> datetime:
        now = self.now()
        return now if previous is None or now > previous else previous + _TICK

    async def claim(self, record: BatchRecord, claims: Claims) -> BatchRecord | None:
        """Take or keep ``record``; the updated record, or ``None`` if someone else has it."""
        if self.held_by_other(record, claims):
            return None
        seen = record.last_polled_at
        stamp = self.next_stamp(seen)
        updated = await self.update(
            record.id, {"last_polled_at": stamp}, expect={"last_polled_at": seen}
        )
        if updated is None:
            claims.drop(record.id)
            return None
        claims.set(record.id, stamp)
        return updated

    async def held_update(
        self, record_id: str, claims: Claims, changes: Mapping[str, Any]
    ) -> BatchRecord | None:
        """Apply ``changes`` and refresh the claim, if we still hold the record.

        ``None`` (nothing written) when another worker took the record over.
        """
        mine = claims.get(record_id)
        stamp = self.next_stamp(mine)
        updated = await self.update(
            record_id, {**changes, "last_polled_at": stamp}, expect={"last_polled_at": mine}
        )
        if updated is None:
            claims.drop(record_id)
            return None
        claims.set(record_id, stamp)
        return updated

    async def refresh_if_due(self, record_id: str, claims: Claims) -> bool:
        """Refresh the claim once a third of its lifetime has passed; False if lost."""
        mine = claims.get(record_id)
        if mine is None:
            return False
        if (self.now() - mine).total_seconds() < self.claim_ttl / 3:
            return True
        return await self.held_update(record_id, claims, {}) is not None

    @contextlib.asynccontextmanager
    async def kept_claim(self, record_id: str, claims: Claims) -> AsyncIterator[None]:
        """Keep refreshing the claim on ``record_id`` (in real time) while the body runs.

        For waits we do not control, such as a create call uploading a large body: a
        record whose claim is kept is never mistaken for one a dead worker left.
        """
        stop = asyncio.Event()

        async def beat() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.claim_ttl / 3)
                if stop.is_set() or await self.held_update(record_id, claims, {}) is None:
                    return

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            stop.set()
            # Let a refresh in progress finish, so the stamp we remember is the stored one.
            with contextlib.suppress(Exception):
                await task
