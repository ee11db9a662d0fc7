"""Usage accounting off the call path: count in memory, price and flush in the background.

A call adds its token counts to an in-memory bucket per (minute, entry, model, batch,
reused); that is a dict update under a lock, nothing more. A daemon thread flushes
the buckets every ``interval`` seconds as :class:`~llmopt.store.UsageRollup` rows,
pricing each bucket once (cost is linear in tokens, so pricing the sums is exact). If
the store is down, the buckets are kept and retried at the next flush. A call answered
from a stored result (``reused``) was not billed again: it adds a call and its
baseline, no tokens and no cost (see ``UsageTally.bill``).

The cache plans go the same way: a call keeps its plan's breakpoints, decisions and
counts (not its request) in memory, at most the last ``RECENT_PLANS_KEPT`` per entry,
and the flush records them with ``Store.add_plans``, which keeps each entry's newest
across processes: what the entry's page lists. Plans not recorded because the store
is down are retried at the next flush, still no more than that many per entry.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from llmopt.caching import Breakpoint, CachePlan
from llmopt.errors import StoreError
from llmopt.providers import TokenUsage
from llmopt.store import RECENT_PLANS_KEPT, PlanRecord, Store, UsageRollup
from llmopt.store._per_store import PerStore
from llmopt.store._records import utcnow

from ._background import PeriodicTask
from ._tally import UsageTally

logger = logging.getLogger("llmopt.wrapper")

DEFAULT_FLUSH_INTERVAL = 5.0


_Key = tuple[datetime, str, str, str, bool, bool]  # minute, entry, provider, model, batch, reused


class _SeenPlan(NamedTuple):
    """What a call keeps of its plan until the flush: cheap to make, and without the
    request (``CachePlan.payload``), which must not be held on to. Its fields are
    ``PlanRecord``'s."""

    entry_key: str
    at: datetime
    model: str
    breakpoints: tuple[Breakpoint, ...]
    decisions: tuple[str, ...]
    content_blocks: int
    estimated_tokens: int
    unread_write_tokens_5m: int
    unread_write_tokens_1h: int
    missed_read_tokens: int


def _pending_plans() -> deque[_SeenPlan]:
    return deque(maxlen=RECENT_PLANS_KEPT)


class UsageRecorder:
    """Collects per-call usage and cache plans and writes per-minute roll-ups and each
    entry's recent plans to ``store``.

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
        self._plans: dict[str, deque[_SeenPlan]] = {}
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
        ``plan``: what the cache planner made of the request, when it saw it; its
        counts are added to the roll-up and the plan is kept for the entry's page.
        """
        now = self._clock()
        minute = now.replace(second=0, microsecond=0)
        batch = usage.batch if usage is not None else False
        key = (minute, entry_key, provider, model, batch, reused)
        seen = None
        if plan is not None:
            seen = _SeenPlan(
                entry_key,
                now,
                model,
                plan.breakpoints,
                plan.decisions,
                plan.content_blocks,
                plan.estimated_tokens,
                plan.unread_write_tokens_5m,
                plan.unread_write_tokens_1h,
                plan.missed_read_tokens,
            )
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = UsageTally()
            bucket.add(usage, optimized=optimized, error=error, fallback=fallback, plan=plan)
            if seen is not None:
                plans = self._plans.get(entry_key)
                if plans is None:
                    plans = self._plans[entry_key] = _pending_plans()
                plans.append(seen)

    def start(self) -> UsageRecorder:
        """Start the background flusher (idempotent); returns self."""
        self._flusher.start()
        return self

    def stop(self) -> None:
        """Flush what is left and stop the thread."""
        self._flusher.stop()
        self.flush()

    def flush(self) -> int:
        """Write every pending bucket as roll-ups, and the pending plans; returns how many
        roll-ups were written."""
        with self._flush_lock:
            with self._lock:
                pending, self._buckets = self._buckets, {}
                plans, self._plans = self._plans, {}
            written = self._flush_usage(pending)
            self._flush_plans(plans)  # after the usage, which matters more
            return written

    def _flush_usage(self, pending: dict[_Key, UsageTally]) -> int:
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

    def _flush_plans(self, plans: dict[str, deque[_SeenPlan]]) -> None:
        if not plans:
            return
        try:
            self.store.add_plans(
                PlanRecord.model_validate(seen, from_attributes=True)
                for kept in plans.values()
                for seen in kept
            )
        except StoreError as exc:
            logger.warning("cache plans not recorded, will retry: %s", exc)
            with self._lock:
                for entry_key, kept in plans.items():
                    # Older first, so a full deque drops these before the calls since.
                    merged = _pending_plans()
                    merged.extend(kept)
                    merged.extend(self._plans.get(entry_key, ()))
                    self._plans[entry_key] = merged


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
        cost_usd=_float(bill.cost),
        baseline_cost_usd=_float(bill.baseline),
        unpriced_calls=0 if bill.cost is not None else bucket.calls - bucket.errors,
        content_blocks=bucket.content_blocks,
        cached_blocks=bucket.cached_blocks,
        estimated_input_tokens=bucket.estimated_input_tokens,
        estimated_cached_tokens=bucket.estimated_cached_tokens,
        unread_write_tokens_5m=bucket.unread_write_tokens_5m,
        unread_write_tokens_1h=bucket.unread_write_tokens_1h,
        missed_read_tokens=bucket.missed_read_tokens,
        write_cost_usd=_float(bill.write_cost),
        unread_write_cost_usd=_float(bill.unread_write_cost),
        missed_read_cost_usd=_float(bill.missed_read_cost),
    )


def _float(cost: Decimal | None) -> float:
    # An unknown price counts as 0 here; unpriced_calls says how many calls that leaves out.
    return float(cost) if cost is not None else 0.0


_recorders: PerStore[UsageRecorder] = PerStore(UsageRecorder)


def recorder_for(store: Store) -> UsageRecorder:
    """The process's running usage recorder for ``store``, started on first use."""
    return _recorders(store).start()
