"""Message Batches as the sandbox keeps them, and how they move on the sandbox clock.

A batch runs its requests in a fixed shuffled order (the order of its results file),
``parallelism`` at a time: wave ``w`` (positions ``w * parallelism`` onwards) completes
at ``created_at + (w + 1) * item_seconds``. Nothing runs in the background: a batch is
brought up to the clock whenever it is looked at (retrieve, list, cancel, delete,
results, billing), which runs the waves that have completed by then, in order. So with
``item_seconds=0`` a batch has ended by the first retrieve after its create, and with a
:class:`ManualClock` a slow batch moves exactly as far as the test advances the clock.

- A batch ends when its last request is done; a request still unfinished 24 h after
  creation expires (``expired``), and the batch ends then.
- Cancel lets the wave in flight finish and cancels the rest (``canceled``); the batch is
  ``canceling`` until that wave completes.
- ``request_counts`` show every request as ``processing`` until the batch has ended.
- Results stay downloadable 29 days from ``created_at``; then ``archived_at`` is set and
  the results are gone (404).

With a data directory every change is saved (see ``_batch_files``) before the response
goes out, so a restarted sandbox continues where the last one stopped, without running
or billing any request twice.
"""

from __future__ import annotations

import bisect
import random
import string
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from llmopt.sandbox import _errors as msg
from llmopt.sandbox._batch_files import DataDir, FileChunks
from llmopt.sandbox._batch_items import (
    STALLED,
    Job,
    Preparations,
    Tally,
    ended_line,
    keeps_cache_hit,
    last_user_text,
    run_wave,
)
from llmopt.sandbox._billing import BillingLedger
from llmopt.sandbox._cache import PromptCache
from llmopt.sandbox._clock import Clock
from llmopt.sandbox._errors import ApiError, invalid
from llmopt.sandbox._faults import BatchItemFault, FaultInjector
from llmopt.sandbox._options import BatchOptions

EXPIRY_SECONDS = 24 * 3600
"""A batch's requests not done this long after its creation expire."""
RETENTION_SECONDS = 29 * 24 * 3600
"""A batch's results can be downloaded for this long after its creation."""

ProcessingStatus = Literal["in_progress", "canceling", "ended"]

_ID_PREFIX = "msgbatch_"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # in ASCII order
_KEY_DIGITS = 10
_RANDOM_DIGITS = 14
_ID_RANDOM = random.Random()
_SERVE_LINES = 512


class BatchRecord:
    """One batch: its requests, how far it has run, and its results lines.

    ``lines`` holds the results of positions ``0..done-1`` in running order
    (:data:`STALLED` for a request that will not finish), and all of them once the batch
    has ended, unless they live in the data directory (``results_file``) or were
    archived. Guard every use with ``lock``.
    """

    def __init__(
        self,
        *,
        batch_id: str,
        key: int,
        created_at: float,
        owner: str,
        count: int,
        options: BatchOptions,
    ) -> None:
        self.id = batch_id
        self.key = key
        self.created_at = created_at
        self.owner = owner
        self.count = count
        self.item_seconds = options.item_seconds
        self.parallelism = options.parallelism
        self.cache_hit_ratio = options.cache_hit_ratio
        self.seed = options.seed
        self.lock = threading.Lock()
        self.custom_ids: list[str] = []
        self.params: list[Any] = []
        self.faults: dict[int, BatchItemFault] = {}
        self.lines: list[bytes] | None = []
        self.done = 0
        self.stalled = 0
        self.counts: Counter[str] = Counter()
        self.status: ProcessingStatus = "in_progress"
        self.ended_at: float | None = None
        self.cancel_initiated_at: float | None = None
        self.cancel_limit: int | None = None
        self.archived_at: float | None = None
        self.last_completion: float | None = None
        self.requests_file: str | None = None
        self.progress_files: list[str] = []
        self.results_file: str | None = None
        self.saved: dict[str, Any] = {}
        self._order: list[int] | None = None

    @property
    def expires_at(self) -> float:
        return self.created_at + EXPIRY_SECONDS

    @property
    def order(self) -> list[int]:
        """Request indexes in running order: a shuffle fixed by the seed and the id's key,
        never the request order itself (for more than one request)."""
        if self._order is None:
            order = list(range(self.count))
            random.Random(f"{self.seed}:{self.key}").shuffle(order)
            if self.count > 1 and order == sorted(order):
                order.append(order.pop(0))
            self._order = order
        return self._order

    def limit(self) -> int:
        """How many positions may still run: all, or those up to the wave in flight
        when cancel came."""
        return self.count if self.cancel_limit is None else self.cancel_limit

    def wave_end(self, position: int) -> float:
        """When the wave holding ``position`` completes."""
        wave = position // self.parallelism
        return self.created_at + (wave + 1) * self.item_seconds

    def request_counts(self) -> dict[str, int]:
        if self.status != "ended":
            return {
                "processing": self.count,
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            }
        return {
            "processing": 0,
            **{k: self.counts[k] for k in ("succeeded", "errored", "canceled", "expired")},
        }

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The batch as the API shows it (``results_url`` under ``base_url``)."""
        ended = self.status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": self.request_counts(),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "ended_at": rfc3339(self.ended_at),
            "cancel_initiated_at": rfc3339(self.cancel_initiated_at),
            "archived_at": rfc3339(self.archived_at),
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }

    def meta(self) -> dict[str, Any]:
        """What ``state.json`` keeps of the batch."""
        return {
            "id": self.id,
            "key": self.key,
            "created_at": self.created_at,
            "owner": self.owner,
            "count": self.count,
            "item_seconds": self.item_seconds,
            "parallelism": self.parallelism,
            "cache_hit_ratio": self.cache_hit_ratio,
            "seed": self.seed,
            "status": self.status,
            "done": self.done,
            "stalled": self.stalled,
            "counts": dict(self.counts),
            "ended_at": self.ended_at,
            "cancel_initiated_at": self.cancel_initiated_at,
            "cancel_limit": self.cancel_limit,
            "archived_at": self.archived_at,
            "last_completion": self.last_completion,
            "requests_file": self.requests_file,
            "progress_files": list(self.progress_files),
            "results_file": self.results_file,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> BatchRecord:
        options = BatchOptions(
            item_seconds=meta["item_seconds"],
            parallelism=meta["parallelism"],
            cache_hit_ratio=meta["cache_hit_ratio"],
            seed=meta["seed"],
        )
        record = cls(
            batch_id=meta["id"],
            key=meta["key"],
            created_at=meta["created_at"],
            owner=meta["owner"],
            count=meta["count"],
            options=options,
        )
        record.status = meta["status"]
        record.done = meta["done"]
        record.stalled = meta["stalled"]
        record.counts = Counter(meta["counts"])
        record.ended_at = meta["ended_at"]
        record.cancel_initiated_at = meta["cancel_initiated_at"]
        record.cancel_limit = meta["cancel_limit"]
        record.archived_at = meta["archived_at"]
        record.last_completion = meta["last_completion"]
        record.requests_file = meta["requests_file"]
        record.progress_files = list(meta["progress_files"])
        record.results_file = meta["results_file"]
        record.saved = dict(meta)
        return record


class BatchStore:
    """Every batch of one sandbox: thread-safe, saved to ``data_dir`` when given.

    Handlers call :meth:`create`, :meth:`find`, :meth:`show`, :meth:`page`,
    :meth:`cancel`, :meth:`delete` and :meth:`results`; each brings the batches it
    touches up to the clock first. Work on one batch holds only that batch's lock.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        cache: PromptCache,
        billing: BillingLedger,
        faults: FaultInjector,
        options: BatchOptions,
        data_dir: Path | None,
    ) -> None:
        self._clock = clock
        self._cache = cache
        self._billing = billing
        self._faults = faults
        self.options = options
        self._lock = threading.Lock()
        self._save_lock = threading.RLock()
        self._records: dict[str, BatchRecord] = {}
        self._keys: list[tuple[int, str]] = []
        self._last_key = 0
        self._calls: Counter[str] = Counter()
        self._files = None if data_dir is None else DataDir(data_dir)
        if self._files is not None:
            self._load(self._files)
            billing.on_change = self.save

    # -- the API ---------------------------------------------------------------------

    def create(
        self, custom_ids: Sequence[str], params: Sequence[Any], *, owner: str
    ) -> BatchRecord:
        """A new batch of these requests (already checked), ``in_progress``."""
        now = self._clock()
        faults = self._faults.decide_batch_items(len(params), lambda i: last_user_text(params[i]))
        with self._lock:
            key = max(int(now * 1000) * 1000, self._last_key + 1)
            self._last_key = key
        record = BatchRecord(
            batch_id=_batch_id(key),
            key=key,
            created_at=now,
            owner=owner,
            count=len(params),
            options=self.options,
        )
        record.custom_ids = list(custom_ids)
        record.params = list(params)
        record.faults = faults
        if self._files is not None:
            rows = (
                [cid, p, None if i not in faults else faults[i].model_dump(mode="json")]
                for i, (cid, p) in enumerate(zip(custom_ids, params, strict=True))
            )
            record.requests_file = self._files.write_requests(record.id, rows)
        record.saved = record.meta()
        with self._lock:
            self._records[record.id] = record
            bisect.insort(self._keys, (key, record.id))
        self.save()
        return record

    def find(self, batch_id: str) -> BatchRecord:
        """The batch with this id; 404 ``not_found_error`` when there is none."""
        with self._lock:
            record = self._records.get(batch_id)
        if record is None:
            raise ApiError("not_found_error", msg.BATCH_NOT_FOUND.format(batch_id=batch_id))
        return record

    def show(self, record: BatchRecord, base_url: str) -> dict[str, Any]:
        """The batch brought up to the clock, as JSON."""
        with record.lock:
            self._advance(record)
            return record.to_json(base_url)

    def page(
        self, *, limit: int, after_id: str | None, before_id: str | None
    ) -> tuple[list[BatchRecord], bool]:
        """A page of batches, newest first: those older than ``after_id``, newer than
        ``before_id`` (the ones just before it), or the newest; and whether there are
        more in that direction."""
        with self._lock:
            keys = self._keys
            if after_id is not None:
                older = keys[: bisect.bisect_left(keys, (_cursor_key(after_id, "after_id"),))]
                chosen = older[::-1][: limit + 1]
            elif before_id is not None:
                cursor = _cursor_key(before_id, "before_id")
                newer = keys[bisect.bisect_left(keys, (cursor + 1,)) :]
                chosen = newer[: limit + 1]
            else:
                chosen = keys[::-1][: limit + 1]
            has_more = len(chosen) > limit
            chosen = chosen[:limit]
            if before_id is not None:
                chosen = chosen[::-1]
            records = [self._records[batch_id] for _, batch_id in chosen]
        return records, has_more

    def cancel(self, record: BatchRecord, base_url: str) -> dict[str, Any]:
        """Start canceling: the wave in flight finishes, the rest is canceled. 400 when
        the batch has already ended; a batch already canceling is shown as it is."""
        with record.lock:
            self._advance(record)
            if record.status == "ended":
                raise invalid(msg.BATCH_ALREADY_ENDED, batch_id=record.id)
            if record.status == "in_progress":
                now = self._clock()
                record.status = "canceling"
                record.cancel_initiated_at = now
                in_flight = record.done // record.parallelism + 1
                record.cancel_limit = min(record.count, in_flight * record.parallelism)
                self._advance(record, changed=True)
            return record.to_json(base_url)

    def delete(self, record: BatchRecord) -> None:
        """Forget an ended batch and its results; 400 while it is still processing."""
        with record.lock:
            self._advance(record)
            if record.status != "ended":
                raise invalid(msg.BATCH_NOT_ENDED, batch_id=record.id)
            with self._lock:
                self._records.pop(record.id, None)
                self._keys.remove((record.key, record.id))
            self.save()
            self._remove_files(record, keep_results=False)
            record.lines = None

    def results(self, record: BatchRecord) -> Iterable[bytes]:
        """The results file as chunks: one line per request, in running order.

        404 before the batch has ended and after its results were archived.
        """
        with record.lock:
            self._advance(record)
            if record.status != "ended":
                raise ApiError(
                    "not_found_error", msg.BATCH_RESULTS_NOT_READY.format(batch_id=record.id)
                )
            if record.archived_at is not None:
                raise ApiError(
                    "not_found_error", msg.BATCH_RESULTS_ARCHIVED.format(batch_id=record.id)
                )
            if record.lines is not None:
                return _in_chunks(record.lines)
            if self._files is None or record.results_file is None:
                raise ApiError("api_error", msg.INTERNAL_ERROR)
            return FileChunks(self._files.open_results(record.results_file))

    def advance_all(self) -> None:
        """Bring every batch up to the clock (before billing is read)."""
        with self._lock:
            records = list(self._records.values())
        for record in records:
            with record.lock:
                self._advance(record)

    def count_call(self, endpoint: str) -> None:
        """Count one call of a batch endpoint (``create``, ``retrieve``...)."""
        with self._lock:
            self._calls[endpoint] += 1

    def calls(self) -> dict[str, int]:
        """How many times each batch endpoint was called."""
        with self._lock:
            return dict(self._calls)

    def summaries(self) -> list[dict[str, Any]]:
        """Every batch, oldest first: id, status and counts (for ``/_sandbox/batches``)."""
        self.advance_all()
        with self._lock:
            records = [self._records[batch_id] for _, batch_id in self._keys]
        summary = []
        for record in records:
            with record.lock:
                summary.append(
                    {
                        "id": record.id,
                        "processing_status": record.status,
                        "request_counts": record.request_counts(),
                    }
                )
        return summary

    def clear(self) -> None:
        """Forget every batch and the endpoint counters."""
        with self._lock:
            records = list(self._records.values())
            self._records.clear()
            self._keys.clear()
            self._calls.clear()
        self.save()
        for record in records:
            with record.lock:
                self._remove_files(record, keep_results=False)
                record.lines = None

    def save(self) -> None:
        """Write ``state.json`` (billing and every batch's metadata); no-op in memory."""
        if self._files is None:
            return
        with self._save_lock:
            with self._lock:
                batches = [self._records[batch_id].saved for _, batch_id in self._keys]
                next_key = self._last_key
            state = {"next_key": next_key, "billing": self._billing.to_json(), "batches": batches}
            self._files.save_state(state)

    # -- running ---------------------------------------------------------------------

    def _advance(self, record: BatchRecord, *, changed: bool = False) -> None:
        """Run the waves completed by now, end or archive the batch when due, and save
        what changed. Call with ``record.lock`` held."""
        now = self._clock()
        start = record.done
        tally = Tally()
        if record.status != "ended":
            self._run_waves(record, now, tally)
            ended = self._end_if_due(record, now)
        else:
            ended = False
        archived = self._archive_if_due(record, now)
        if not (changed or ended or archived or record.done > start):
            return
        stale: list[str] = []
        if self._files is not None and record.lines is not None:
            if ended:
                record.results_file = self._files.write_results(record.id, record.lines)
                stale = [*record.progress_files, *filter(None, [record.requests_file])]
                record.progress_files, record.requests_file = [], None
                record.lines = None
            elif record.done > start:
                new = record.lines[start : record.done]
                record.progress_files.append(self._files.write_progress(record.id, start, new))
        if archived:
            stale += filter(None, [record.results_file])
            record.results_file = None
            record.lines = None
        with self._save_lock:
            record.saved = record.meta()
            self._billing.add(tally.billing(), notify=False)
            self.save()
        if self._files is not None:
            self._files.remove(stale)

    def _run_waves(self, record: BatchRecord, now: float, tally: Tally) -> None:
        lines = record.lines
        if lines is None:
            return
        limit = record.limit()
        order = record.order
        preparations = Preparations()
        while record.done < limit:
            completes = record.wave_end(record.done)
            if completes > now or completes > record.expires_at:
                return
            start = record.done
            end = min(start + record.parallelism - start % record.parallelism, limit)
            jobs = []
            for position in range(start, end):
                index = order[position]
                custom_id = record.custom_ids[index]
                lookup = keeps_cache_hit(record.seed, custom_id, record.cache_hit_ratio)
                jobs.append(Job(custom_id, record.params[index], record.faults.get(index), lookup))
                record.params[index] = None
            succeeded, errored = tally.succeeded, tally.errored
            done = run_wave(
                jobs,
                cache=self._cache,
                owner=record.owner,
                day=_day(completes),
                tally=tally,
                preparations=preparations,
            )
            record.counts["succeeded"] += tally.succeeded - succeeded
            record.counts["errored"] += tally.errored - errored
            record.stalled += done.count(STALLED)
            lines.extend(done)
            record.done = end
            record.last_completion = completes

    def _end_if_due(self, record: BatchRecord, now: float) -> bool:
        canceled = record.cancel_initiated_at is not None
        if record.done >= record.limit() and (record.stalled == 0 or canceled):
            ended_at = max(
                record.last_completion or record.created_at,
                record.cancel_initiated_at or record.created_at,
            )
        elif now >= record.expires_at:
            ended_at = record.expires_at
        else:
            return False
        lines = record.lines
        if lines is not None:
            unfinished = "canceled" if canceled else "expired"
            if record.stalled:
                for position, line in enumerate(lines):
                    if line == STALLED:
                        custom_id = record.custom_ids[record.order[position]]
                        lines[position] = ended_line(custom_id, unfinished)
                        record.counts[unfinished] += 1
            for position in range(record.done, record.count):
                beyond = record.cancel_limit is not None and position >= record.cancel_limit
                result = "canceled" if beyond else "expired"
                lines.append(ended_line(record.custom_ids[record.order[position]], result))
                record.counts[result] += 1
        record.stalled = 0
        record.status = "ended"
        record.ended_at = ended_at
        record.params = []
        return True

    def _archive_if_due(self, record: BatchRecord, now: float) -> bool:
        due = record.created_at + RETENTION_SECONDS
        if record.status != "ended" or record.archived_at is not None or now < due:
            return False
        record.archived_at = due
        return True

    def _remove_files(self, record: BatchRecord, *, keep_results: bool) -> None:
        if self._files is None:
            return
        names = [*record.progress_files, *filter(None, [record.requests_file])]
        if not keep_results:
            names += filter(None, [record.results_file])
        self._files.remove(names)

    # -- loading ---------------------------------------------------------------------

    def _load(self, files: DataDir) -> None:
        state = files.load_state()
        keep: set[str] = set()
        if state is not None:
            self._billing.restore(state["billing"])
            self._last_key = int(state["next_key"])
            for meta in state["batches"]:
                record = BatchRecord.from_meta(meta)
                if record.status != "ended":
                    _reload_requests(record, files)
                elif record.results_file is None and record.archived_at is None:
                    raise ValueError(f"batch {record.id} has ended but has no results file")
                else:
                    record.lines = None
                keep.update(record.progress_files)
                keep.update(filter(None, [record.requests_file, record.results_file]))
                self._records[record.id] = record
                self._keys.append((record.key, record.id))
            self._keys.sort()
        files.sweep(keep)


def _reload_requests(record: BatchRecord, files: DataDir) -> None:
    if record.requests_file is None:
        raise ValueError(f"batch {record.id} is unfinished but has no requests file")
    for index, (custom_id, params, fault) in enumerate(files.read_requests(record.requests_file)):
        record.custom_ids.append(custom_id)
        record.params.append(params)
        if fault is not None:
            record.faults[index] = BatchItemFault.model_validate(fault)
    lines: list[bytes] = []
    for name in record.progress_files:
        lines.extend(files.read_progress(name))
    if len(lines) != record.done or len(record.params) != record.count:
        raise ValueError(f"batch {record.id}: its saved progress does not match its metadata")
    order = record.order
    for position in range(record.done):
        record.params[order[position]] = None
    record.lines = lines


def rfc3339(moment: float | None) -> str | None:
    """``moment`` (seconds since the epoch) as an RFC 3339 UTC timestamp, or ``None``."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def _day(moment: float) -> date:
    return datetime.fromtimestamp(moment, UTC).date()


def _in_chunks(lines: list[bytes]) -> Iterator[bytes]:
    for start in range(0, len(lines), _SERVE_LINES):
        yield b"".join(lines[start : start + _SERVE_LINES])


def _base62(number: int, digits: int) -> str:
    chars = []
    for _ in range(digits):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars))


def _batch_id(key: int) -> str:
    tail = "".join(_ID_RANDOM.choices(_BASE62, k=_RANDOM_DIGITS))
    return _ID_PREFIX + _base62(key, _KEY_DIGITS) + tail


def _cursor_key(batch_id: str, name: str) -> int:
    """The creation key a batch id carries: ids sort as the batches were created."""
    digits = batch_id.removeprefix(_ID_PREFIX)[:_KEY_DIGITS]
    if not batch_id.startswith(_ID_PREFIX) or len(digits) != _KEY_DIGITS:
        raise invalid(msg.BATCH_BAD_CURSOR, path=name)
    key = 0
    for char in digits:
        value = _BASE62.find(char)
        if value < 0:
            raise invalid(msg.BATCH_BAD_CURSOR, path=name)
        key = key * 62 + value
    return key
