"""Usage accounting off the call path: count in memory, price and flush in the background.

A call adds its token counts to an in-memory bucket per (minute, entry, model, batch,
reused); that is a dict update under a lock, nothing more. A daemon thread flushes
the buckets every ``interval`` seconds as :class:`~llmopt.store.UsageRollup` rows,
pricing each bucket once (cost is linear in tokens, so pricing the sums is exact). If
the store is down, the buckets are kept and retried at the next flush. A call answered
from a stored result (``reused``) was not billed again: it adds a call and its
baseline, no tokens and no cost (see ``UsageTally.bill``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from llmopt.caching import CachePlan
from llmopt.errors import StoreError
from llmopt.providers import TokenUsage
from llmopt.store import Store, UsageRollup
from llmopt.store._records import utcnow

from ._background import PeriodicTask
from ._tally import UsageTally

logger = logging.getLogger("llmopt.wrapper")

DEFAULT_FLUSH_INTERVAL = 5.0


_Key = tuple[datetime, str, str, str, bool, bool]  # minute, entry, provider, model, batch, reused


class UsageRecorder:
    """Collects per-call usage and writes per-minute roll-ups to ``store``.

    Use :func:`recorder_for` to share one per store and process. ``flush()`` writes
    now (tests, shutdown).
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float = DEFAULT_FLUSH_INTERVAL,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self._clock = clock or utcnow
        self._buckets: dict[_Key, UsageTally] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flusher = PeriodicTask(
            self.flush, interval=interval, name="llmopt-usage-flusher", run_first=False
        )

    def record(
        self,
        *,
        entry_key: str,
        provider: str,
        model: str,
        usage: TokenUsage | None,
        optimized: bool = False,
        error: bool = False,
        fallback: bool = False,
        reused: bool = False,
        plan: CachePlan | None = None,
    ) -> None:
        """Count one call; cheap and never raises for the store's sake.

        ``optimized``: the call was sent with an optimization (a cache plan or the
        Batch API), counted as ``UsageRollup.optimized_calls``. ``reused``: it was
        answered from a stored result, with the ``usage`` that result was billed.
        ``plan``: what the cache planner made of the request, when it saw it.
        """
        minute = self._clock().replace(second=0, microsecond=0)
        batch = usage.batch if usage is not None else False
        key = (minute, entry_key, provider, model, batch, reused)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = UsageTally()
            bucket.add(usage, optimized=optimized, error=error, fallback=fallback, plan=plan)

    def start(self) -> UsageRecorder:
        """Start the background flusher (idempotent); returns self."""
        self._flusher.start()
        return self

    def stop(self) -> None:
        """Flush what is left and stop the thread."""
        self._flusher.stop()
        self.flush()

    def flush(self) -> int:
        """Write every pending bucket as roll-ups; returns how many rows were written."""
        with self._flush_lock:
            with self._lock:
                pending, self._buckets = self._buckets, {}
            if not pending:
                return 0
            rollups = [_rollup(key, bucket) for key, bucket in pending.items()]
            try:
                self.store.add_usage(rollups)
            except StoreError as exc:
                logger.warning("usage not flushed, will retry: %s", exc)
                with self._lock:
                    for key, bucket in pending.items():
                        self._buckets.setdefault(key, UsageTally()).merge(bucket)
                return 0
            return len(rollups)


def _rollup(key: _Key, bucket: UsageTally) -> UsageRollup:
    minute, entry_key, provider, model, batch, reused = key
    bill = bucket.bill(batch=batch, reused=reused, provider=provider, model=model, at=minute.date())
    billed = bill.usage
    return UsageRollup(
        minute=minute,
        entry_key=entry_key,
        calls=bucket.calls,
        optimized_calls=bucket.optimized_calls,
        batched_calls=bucket.calls if batch and not reused else 0,
        fallbacks=bucket.fallbacks,
        errors=bucket.errors,
        input_tokens=billed.input_tokens,
        cache_write_tokens=billed.cache_write_5m_tokens + billed.cache_write_1h_tokens,
        cache_read_tokens=billed.cache_read_tokens,
        output_tokens=billed.output_tokens,
        cost_usd=float(bill.cost) if bill.cost is not None else 0.0,
        baseline_cost_usd=float(bill.baseline) if bill.baseline is not None else 0.0,
        unpriced_calls=0 if bill.cost is not None else bucket.calls - bucket.errors,
        content_blocks=bucket.content_blocks,
        cached_blocks=bucket.cached_blocks,
        estimated_input_tokens=bucket.estimated_input_tokens,
        estimated_cached_tokens=bucket.estimated_cached_tokens,
    )


_recorders: dict[int, UsageRecorder] = {}
_recorders_lock = threading.Lock()


def recorder_for(store: Store) -> UsageRecorder:
    """The process's running usage recorder for ``store``, started on first use."""
    with _recorders_lock:
        recorder = _recorders.get(id(store))
        if recorder is None or recorder.store is not store:
            recorder = UsageRecorder(store)
            _recorders[id(store)] = recorder
    return recorder.start()
