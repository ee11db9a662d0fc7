"""Requests a batch run of this process is answering right now, so another run waits for
that answer instead of sending (and paying for) the same request again.

Across processes the ledger does this: a batch is recorded only if no unfinished batch
holds its requests (``Store.insert_batch_unless_held``), and a run whose request is held
waits for that batch through the ledger. Within one process (two ``abatch`` calls with
the same prompts, say) this registry hands the answer straight over instead, and since a
run claims its requests before it reads the stored answers, no answer can land between
the two. It is thread-safe: runs on different event loops (each ``run_sync`` client has
its own) share it through ``concurrent.futures`` futures.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future

from llmopt.batching._requests import BatchOutcome, PreparedRequest


class OwnerGone(Exception):
    """The run answering a request ended without an outcome for it (it raised, or was
    cancelled): whoever waited answers it themselves."""


class InFlight:
    """The requests the batch clients of one process are answering now, by entry and
    fingerprint, so that a run waits for another's answer instead of paying again.

    Every :class:`AnthropicBatchClient` shares the process's own (its ``in_flight``
    default); give a client one of its own only to have it behave as if it ran in
    another process (a test of the ledger's own protection, say). Thread-safe.
    """

    def __init__(self) -> None:
        # A claim costs a dict slot; the future that carries its outcome is made only
        # when another run asks for it (a run of 100,000 requests would otherwise hold
        # 100,000 futures, each with its own lock).
        self._lock = threading.Lock()
        self._claims: dict[str, dict[str, Future[BatchOutcome] | None]] = {}

    def claim(
        self, entry_key: str, requests: Sequence[PreparedRequest]
    ) -> tuple[list[PreparedRequest], list[tuple[PreparedRequest, Future[BatchOutcome]]]]:
        """Split ``requests`` (one per fingerprint) into those this run now answers and
        those another run answers, each with the future its outcome will arrive in.

        Every claimed request must be released with :meth:`settle`.
        """
        mine: list[PreparedRequest] = []
        theirs: list[tuple[PreparedRequest, Future[BatchOutcome]]] = []
        if not requests:
            return mine, theirs  # no empty per-entry map left behind
        with self._lock:
            claims = self._claims.setdefault(entry_key, {})
            for request in requests:
                fingerprint = request.fingerprint
                if fingerprint not in claims:
                    claims[fingerprint] = None
                    mine.append(request)
                    continue
                waited = claims[fingerprint]
                if waited is None:
                    waited = claims[fingerprint] = Future()
                theirs.append((request, waited))
        return mine, theirs

    def settle(
        self,
        entry_key: str,
        claimed: Sequence[PreparedRequest],
        outcomes: Mapping[int, BatchOutcome],
    ) -> None:
        """Hand each claimed request's outcome (by request index) to those waiting for it;
        one without an outcome tells them :class:`OwnerGone`."""
        if not claimed:
            return
        with self._lock:
            claims = self._claims[entry_key]
            # Only the few with a waiter: a list of every claim would double the memory.
            waited = [(r, f) for r in claimed if (f := claims.pop(r.fingerprint)) is not None]
            if not claims:
                del self._claims[entry_key]
        for request, future in waited:
            outcome = outcomes.get(request.index)
            if outcome is None:
                future.set_exception(OwnerGone(request.fingerprint))
            else:
                future.set_result(outcome)


IN_FLIGHT = InFlight()
"""The process's registry, every client's default."""
