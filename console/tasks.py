"""Background work: collect batches as they end, prune old records.

Tasks are thin: they take ids, call ``llmopt``, and leave their outcome in the store,
which is what the console shows. Each can run twice without harm (batch records are
claimed with a compare-and-set, pruning deletes by cutoff). Store outages and
retryable provider errors are retried with exponential backoff; anything else is
logged and dropped, to be picked up again by the next scheduled run. Log lines name
entries and batches, never a key.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from celery import Task
from django.conf import settings

from llmopt.errors import ConfigError, ProviderError, RecordNotFound, StoreError
from llmopt.store import BATCHES_IN_FLIGHT, BatchRecord, BatchStatus
from llmopt.wrapper import batch_client_for_entry

from .broker import prune_processed
from .celery import app
from .store import get_store

logger = logging.getLogger("console.tasks")

UNFINISHED = BATCHES_IN_FLIGHT
_PAGE = 500
POLL_SOFT_LIMIT = 120
"""Seconds one pass over an entry's batches may take (results of a large batch stream in)."""
_PASS_SECONDS = POLL_SOFT_LIMIT - 10  # our own bound fires first, and cleanly
MAX_RETRIES = 5
_RETRY_BASE = 2  # seconds; doubled on each retry, capped at _RETRY_MAX
_RETRY_MAX = 300


def _retry(task: Task, exc: Exception) -> NoReturn:
    """Retry ``task`` later when ``exc`` may pass (store down, provider busy); else re-raise."""
    if isinstance(exc, RecordNotFound | ConfigError) or (
        isinstance(exc, ProviderError) and not exc.retryable
    ):
        raise exc
    countdown = min(_RETRY_BASE * 2**task.request.retries, _RETRY_MAX)
    logger.warning("%s: %s; retry %d in %d s", task.name, exc, task.request.retries + 1, countdown)
    raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES)


@app.task(bind=True, soft_time_limit=30, time_limit=60)
def poll_batches(self: Task) -> list[str]:
    """Enqueue one ``poll_entry_batches`` per entry that has unfinished batches.

    Returns those entry keys. Run by beat every ``LLMOPT_BATCH_POLL_SECONDS``.
    """
    try:
        entry_keys = _entries_with_unfinished_batches()
    except StoreError as exc:
        _retry(self, exc)
    # Stale polls (workers down or behind) are dropped rather than run in a burst later.
    expires = max(60, 2 * settings.LLMOPT_BATCH_POLL_SECONDS)
    for entry_key in entry_keys:
        poll_entry_batches.apply_async(args=[entry_key], expires=expires)
    if entry_keys:
        logger.info("polling batches of %d entries: %s", len(entry_keys), ", ".join(entry_keys))
    return entry_keys


def _entries_with_unfinished_batches() -> list[str]:
    store = get_store()
    keys: dict[str, None] = {}
    offset = 0
    while True:
        page = store.list_batches(statuses=UNFINISHED, limit=_PAGE, offset=offset)
        keys.update(dict.fromkeys(record.entry_key for record in page))
        if len(page) < _PAGE:
            return list(keys)
        offset += _PAGE


@app.task(bind=True, soft_time_limit=POLL_SOFT_LIMIT, time_limit=POLL_SOFT_LIMIT + 30)
def poll_entry_batches(self: Task, entry_key: str) -> list[str]:
    """One pass of ``resume()`` over ``entry_key``'s unfinished batches.

    Batches that ended are collected (answers stored, record marked ended); ones
    another worker is already on are left to it. Returns the ids of the batch
    records this pass acted on.
    """
    try:
        acted = asyncio.run(_resume_once(entry_key))
    except TimeoutError:
        # Claims lapse on their own, so the next scheduled pass carries on from here.
        logger.warning("polling batches of %s stopped after %s s", entry_key, _PASS_SECONDS)
        return []
    except (RecordNotFound, ConfigError) as exc:
        # The entry was deleted or changed provider: nothing this task can collect.
        logger.error("cannot poll batches of %s: %s", entry_key, exc)
        return []
    except (StoreError, ProviderError) as exc:
        _retry(self, exc)
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


async def _resume_once(entry_key: str) -> list[BatchRecord]:
    # A claim must lapse before the next scheduled pass, or that pass (a new client,
    # so a stranger to the claim) would skip the batch as "held by a live worker".
    claim_ttl = max(1.0, settings.LLMOPT_BATCH_POLL_SECONDS * 2 / 3)
    client = batch_client_for_entry(get_store(), entry_key, claim_ttl=claim_ttl)
    try:
        # Time limits are not enforced by every pool (--pool=solo ignores them): bound
        # the pass here too, so a hung provider never wedges the worker.
        return await asyncio.wait_for(client.resume(), timeout=_PASS_SECONDS)
    finally:
        await client.aclose()


# Wrappers flush their minute roll-ups every few seconds and keep them through a store
# outage; folding an hour this long after it ends lets nearly all of them arrive first.
# (A later one is still added to its hour by Store.add_usage, so none is lost.)
ROLL_UP_LAG = timedelta(minutes=5)


@app.task(bind=True, soft_time_limit=120, time_limit=180)
def roll_up_usage(self: Task) -> int:
    """Fold the per-minute usage roll-ups of ended hours into hourly ones (idempotent).

    The overview and statistics read hourly roll-ups plus the few unfolded minutes,
    so their cost stays flat however much history the store keeps. Returns the number
    of hourly rows written. Run by beat every minute; a pass with nothing to fold is
    one small query.
    """
    try:
        written = get_store().fold_usage(through=datetime.now(UTC) - ROLL_UP_LAG)
    except StoreError as exc:
        _retry(self, exc)
    if written:
        logger.info("rolled up usage: %d hourly rows written", written)
    return written


@app.task(bind=True, soft_time_limit=300, time_limit=360)
def prune_old_records(self: Task) -> dict[str, int]:
    """Delete records older than the retention settings, and expired reusable results.

    Usage roll-ups after ``LLMOPT_RETENTION_USAGE_DAYS``, audit records after
    ``LLMOPT_RETENTION_AUDIT_DAYS``, ended batches after ``LLMOPT_RETENTION_BATCH_DAYS``
    (never one in flight). Returns how many of each went. Run by beat hourly.
    """
    now = datetime.now(UTC)
    try:
        removed = get_store().prune(
            usage_before=now - timedelta(days=settings.LLMOPT_RETENTION_USAGE_DAYS),
            usage_hours_before=now - timedelta(days=settings.LLMOPT_RETENTION_HOURLY_USAGE_DAYS),
            audit_before=now - timedelta(days=settings.LLMOPT_RETENTION_AUDIT_DAYS),
            batches_ended_before=now - timedelta(days=settings.LLMOPT_RETENTION_BATCH_DAYS),
            results_expired_by=now,
        )
    except StoreError as exc:
        _retry(self, exc)
    removed["broker_messages"] = prune_processed(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    logger.info("pruned old records: %s", removed)
    return removed
