"""One Message Batch: its requests, how far it has run, and how the API shows it.

Its timeline: requests run in a fixed shuffled order (the order of the results file),
``parallelism`` at a time, wave ``w`` completing at ``created_at + (w + 1) *
item_seconds``; what is not done by ``expires_at`` (24 h) expires; results are kept
until ``created_at`` + 29 days. :class:`~llmopt.sandbox._batch_store.BatchStore` moves
it along that timeline.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from llmopt.sandbox._faults import BatchItemFault
from llmopt.sandbox._options import BatchOptions

EXPIRY_SECONDS = 24 * 3600
"""A batch's requests not done this long after its creation expire."""
RETENTION_SECONDS = 29 * 24 * 3600
"""A batch's results can be downloaded for this long after its creation."""

ProcessingStatus = Literal["in_progress", "canceling", "ended"]


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
        self.params: list[bytes] = []  # compact JSON; b"" once run
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
        """When requests not done by then expire."""
        return self.created_at + EXPIRY_SECONDS

    @property
    def archives_at(self) -> float:
        """When the results stop being downloadable."""
        return self.created_at + RETENTION_SECONDS

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


def rfc3339(moment: float | None) -> str | None:
    """``moment`` (seconds since the epoch) as an RFC 3339 UTC timestamp, or ``None``."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
