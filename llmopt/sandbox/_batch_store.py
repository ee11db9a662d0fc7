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
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

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
    params_json,
    run_wave,
)
from llmopt.sandbox._batch_record import BatchRecord
from llmopt.sandbox._billing import BillingLedger
from llmopt.sandbox._cache import PromptCache
from llmopt.sandbox._clock import Clock
from llmopt.sandbox._errors import ApiError, invalid
from llmopt.sandbox._faults import BatchItemFault, FaultInjector
from llmopt.sandbox._options import BatchOptions

_ID_PREFIX = "msgbatch_"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # in ASCII order
_KEY_DIGITS = 10
_RANDOM_DIGITS = 14
_ID_RANDOM = random.Random()
_SERVE_LINES = 512
_MAX_PROGRESS_FILES = 32


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
        record.params = [params_json(p) for p in params]
        record.faults = faults
        if self._files is not None:
            rows = (
                (cid, p, None if i not in faults else faults[i].model_dump(mode="json"))
                for i, (cid, p) in enumerate(zip(custom_ids, record.params, strict=True))
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
            self._remove_files(record)
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
                self._remove_files(record)
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
            elif record.done > start and len(record.progress_files) >= _MAX_PROGRESS_FILES:
                stale = record.progress_files  # many small polls: one file for them all
                done_so_far = record.lines[: record.done]
                record.progress_files = [self._files.write_progress(record.id, 0, done_so_far)]
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
                record.params[index] = b""
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
        record.params, record.custom_ids, record.faults = [], [], {}  # the lines say it all
        return True

    def _archive_if_due(self, record: BatchRecord, now: float) -> bool:
        if record.status != "ended" or record.archived_at is not None or now < record.archives_at:
            return False
        record.archived_at = record.archives_at
        return True

    def _remove_files(self, record: BatchRecord) -> None:
        if self._files is not None:
            named = [record.requests_file, record.results_file]
            self._files.remove([*record.progress_files, *filter(None, named)])

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
        record.params.append(params_json(params))
        if fault is not None:
            record.faults[index] = BatchItemFault.model_validate(fault)
    lines: list[bytes] = []
    for name in record.progress_files:
        lines.extend(files.read_progress(name))
    if len(lines) != record.done or len(record.params) != record.count:
        raise ValueError(f"batch {record.id}: its saved progress does not match its metadata")
    order = record.order
    for position in range(record.done):
        record.params[order[position]] = b""
    record.lines = lines


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
