"""Background work: collect batches as they end, prune old records.

Tasks are thin: they take ids, call ``llmopt``, and leave their outcome in the store,
which is what the console shows. Each can run twice without harm (batch records are
claimed with a compare-and-set, pruning deletes by cutoff). Store outages and
retryable provider errors are retried by Celery with exponential backoff (``RETRIES``);
anything else is logged and dropped, to be picked up again by the next scheduled run.
Log lines name entries and batches, never a key.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from django.conf import settings

from llmopt.errors import ConfigError, ProviderError, RecordNotFound, StoreError
from llmopt.store import BATCHES_IN_FLIGHT, BatchRecord, BatchStatus
from llmopt.wrapper import batch_client_for_entry

from .broker import prune_processed
from .celery import app
from .store import get_store

logger = logging.getLogger("console.tasks")

_PAGE = 500
POLL_SOFT_LIMIT = 120
"""Seconds one pass over an entry's batches may take (results of a large batch stream in)."""
PASS_SECONDS = POLL_SOFT_LIMIT - 10
"""How long one pass of ``poll_entry_batches`` may run unless told otherwise: less than its
soft time limit, so the pass's own bound fires first, and cleanly."""


class RetryPolicy(TypedDict):
    """Celery's retry options, typed so a shared set can be spread into ``@app.task``."""

    dont_autoretry_for: tuple[type[Exception], ...]
    max_retries: int
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool


RETRIES = RetryPolicy(
    dont_autoretry_for=(RecordNotFound,),  # waiting does not bring a record back
    max_retries=5,
    # Retry n waits a random 0 to 2**n whole seconds (up to 2, 4, 8, 16, 32): random, so
    # workers that met the same outage do not all come back at once.
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
)
"""How every task is retried; each task names what it retries in ``autoretry_for``."""


@app.task(soft_time_limit=30, time_limit=60, autoretry_for=(StoreError,), **RETRIES)
def poll_batches() -> list[str]:
    """Enqueue one ``poll_entry_batches`` per entry that has unfinished batches.

    Returns those entry keys. Run by beat every ``LLMOPT_BATCH_POLL_SECONDS``.
    """
    entry_keys = _entries_with_unfinished_batches()
    # Stale polls (workers down or behind) are dropped rather than run in a burst later.
    expires = max(60, 2 * settings.LLMOPT_BATCH_POLL_SECONDS)
    for entry_key in entry_keys:
        poll_entry_batches.apply_async(args=(entry_key,), expires=expires)
    if entry_keys:
        logger.info("polling batches of %d entries: %s", len(entry_keys), ", ".join(entry_keys))
    return entry_keys


def _entries_with_unfinished_batches() -> list[str]:
    store = get_store()
    keys: dict[str, None] = {}
    offset = 0
    while True:
        page = store.list_batches(statuses=BATCHES_IN_FLIGHT, limit=_PAGE, offset=offset)
        keys.update(dict.fromkeys(record.entry_key for record in page))
        if len(page) < _PAGE:
            return list(keys)
        offset += _PAGE


@app.task(
    soft_time_limit=POLL_SOFT_LIMIT,
    time_limit=POLL_SOFT_LIMIT + 30,
    autoretry_for=(StoreError, ProviderError),
    **RETRIES,
)
def poll_entry_batches(entry_key: str, *, pass_seconds: float = PASS_SECONDS) -> list[str]:
    """One pass of ``resume()`` over ``entry_key``'s unfinished batches.

    Batches that ended are collected (answers stored, record marked ended); ones
    another worker is already on are left to it. The pass stops after ``pass_seconds``.
    Returns the ids of the batch records this pass acted on.
    """
    try:
        acted = asyncio.run(_resume_once(entry_key, pass_seconds))
    except TimeoutError:
        # Claims lapse on their own, so the next scheduled pass carries on from here.
        logger.warning("polling batches of %s stopped after %s s", entry_key, pass_seconds)
        return []
    except (RecordNotFound, ConfigError, ProviderError) as exc:
        if isinstance(exc, ProviderError) and exc.retryable:
            raise  # Celery retries it
        # The entry was deleted, changed provider, or the provider refuses what waiting
        # will not change: nothing this task can collect.
        logger.error("cannot poll batches of %s: %s", entry_key, exc)
        return []
    ended = [r.id for r in acted if r.status is BatchStatus.ENDED]
    if acted:
        logger.info(
            "polled %d batches of %s (%d ended): %s",
            len(acted),
            entry_key,
            len(ended),
            ", ".join(r.id for r in acted),
        )
    return [r.id for r in acted]


async def _resume_once(entry_key: str, pass_seconds: float) -> list[BatchRecord]:
    # A claim must lapse before the next scheduled pass, or that pass (a new client,
    # so a stranger to the claim) would skip the batch as "held by a live worker".
    claim_ttl = max(1.0, settings.LLMOPT_BATCH_POLL_SECONDS * 2 / 3)
    client = batch_client_for_entry(get_store(), entry_key, claim_ttl=claim_ttl)
    try:
        # Time limits are not enforced by every pool (--pool=solo ignores them): bound
        # the pass here too, so a hung provider never wedges the worker.
        return await asyncio.wait_for(client.resume(), timeout=pass_seconds)
    finally:
        await client.aclose()


# Wrappers flush their minute roll-ups every few seconds and keep them through a store
# outage; folding an hour this long after it ends lets nearly all of them arrive first.
# (A later one is still added to its hour by Store.add_usage, so none is lost.)
ROLL_UP_LAG = timedelta(minutes=5)


@app.task(soft_time_limit=120, time_limit=180, autoretry_for=(StoreError,), **RETRIES)
def roll_up_usage() -> int:
    """Fold the per-minute usage roll-ups of ended hours into hourly ones (idempotent).

    The overview and statistics read hourly roll-ups plus the few unfolded minutes,
    so their cost stays flat however much history the store keeps. Returns the number
    of hourly rows written. Run by beat every minute; a pass with nothing to fold is
    one small query.
    """
    written = get_store().fold_usage(through=datetime.now(UTC) - ROLL_UP_LAG)
    if written:
        logger.info("rolled up usage: %d hourly rows written", written)
    return written


@app.task(soft_time_limit=300, time_limit=360, autoretry_for=(StoreError,), **RETRIES)
def prune_old_records() -> dict[str, int]:
    """Delete records older than the retention settings, and expired reusable results.

    Usage roll-ups after ``LLMOPT_RETENTION_USAGE_DAYS``, audit records after
    ``LLMOPT_RETENTION_AUDIT_DAYS``, ended batches after ``LLMOPT_RETENTION_BATCH_DAYS``
    (never one in flight). Routing's and quality's per-minute statistics go with the usage
    roll-ups, incidents with the audit records, and budget spend and alerts and quality
    alerts with the hourly usage (it must outlive a monthly budget's period, or a threshold
    could alert twice).
    Returns how many of each went. Run by beat hourly.
    """
    now = datetime.now(UTC)
    removed = get_store().prune(
        usage_before=now - timedelta(days=settings.LLMOPT_RETENTION_USAGE_DAYS),
        usage_hours_before=now - timedelta(days=settings.LLMOPT_RETENTION_HOURLY_USAGE_DAYS),
        audit_before=now - timedelta(days=settings.LLMOPT_RETENTION_AUDIT_DAYS),
        batches_ended_before=now - timedelta(days=settings.LLMOPT_RETENTION_BATCH_DAYS),
        results_expired_by=now,
        route_stats_before=now - timedelta(days=settings.LLMOPT_RETENTION_USAGE_DAYS),
        incidents_before=now - timedelta(days=settings.LLMOPT_RETENTION_AUDIT_DAYS),
        budget_spend_before=now - timedelta(days=settings.LLMOPT_RETENTION_HOURLY_USAGE_DAYS),
        budget_alerts_before=now - timedelta(days=settings.LLMOPT_RETENTION_HOURLY_USAGE_DAYS),
        quality_before=now - timedelta(days=settings.LLMOPT_RETENTION_USAGE_DAYS),
        quality_alerts_before=now - timedelta(days=settings.LLMOPT_RETENTION_HOURLY_USAGE_DAYS),
    )
    removed["broker_messages"] = prune_processed(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    logger.info("pruned old records: %s", removed)
    return removed
