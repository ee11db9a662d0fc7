"""Anthropic Message Batches, crash-safe: half-price answers that are never paid twice.

- :class:`AnthropicBatchClient`: ``run`` answers a list of :class:`BatchRequest` with
  one :class:`BatchOutcome` each, in input order; ``submit`` and ``resume`` split the
  same work between a producer and a periodic poller; ``cancel`` stops a batch (an
  operator's cancel, ``by=``, also stops what it stopped from being sent elsewhere).
- :func:`fingerprint`: the key a request's answer is stored under for reuse.
- :class:`InFlight`: the requests a process's clients are answering now, which their
  runs share (a client's ``in_flight``; each process has one).

How it stays safe:

- **Ledger first.** Each batch is a ``BatchRecord`` in the ``Store`` (PENDING, with
  every ``custom_id`` and request fingerprint) before the create call, and is updated
  as it runs (IN_PROGRESS/CANCELING, counts, ``last_polled_at``, an operator's
  ``cancel``) and when collected
  (ENDED, ``ended_at``, ``cost_estimate_usd``) or refused (FAILED, ``error``).
- **Answers by fingerprint.** Every succeeded item (and every standard-API answer) is
  stored with ``put_result`` until 29 days after its batch was created (when the
  provider stops serving results). A request whose answer is stored is not sent
  again, and neither is one that an unfinished record already holds: ``run`` waits
  for that batch (claiming it when its owner is gone) and takes its answer, ``submit``
  returns that record. The ledger checks and records a batch in one atomic step, so two
  processes cannot both record a request, and identical requests in one submission, or
  in overlapping submissions of one process (``InFlight``), are sent once. So a
  pipeline that re-sends its work after a crash, or submits it twice, pays once,
  collected or not. The one gap left is milliseconds wide: a request whose batch
  another process collects between this submission's check of stored answers and its
  ledger write. Identical means the same params, temperature included, so n samples of
  one prompt need n distinct requests (a different ``metadata.user_id`` each, say).
- **Claims.** Workers take a record with a compare-and-set on ``last_polled_at`` and
  refresh it while they work; a stamp younger than ``claim_ttl`` belongs to a live
  worker and is left alone, so two pollers never collect the same batch. A worker
  stalled for longer than ``claim_ttl`` is taken over; its next compare-and-set fails
  and it stops, so at worst it rewrites an identical answer already stored, while the
  ENDED mark, counts and cost are written once.
- **The crash between ledger and create.** The create call has no idempotency key,
  so a PENDING record without a provider id may or may not have a batch. Once its
  claim is stale (the submitter is gone), ``resume`` lists the provider's batches
  created since the record, with as many requests, not in the ledger, and, for ended
  ones, with exactly the record's custom ids; it adopts that batch or, when none
  exists, marks the record FAILED ("nothing was sent or billed"). The ledger keeps
  fingerprints, not request bodies, so ``resume`` cannot resend: the caller's re-run
  sends them, and reuse keeps anything that did get answered from being paid again.
  A create whose answer is lost (timeout, reset) gets the same search at once, three
  times with backoff, and is sent again only when nothing turned up; for that reason
  the SDK's own retries are switched off for the create call (errors the API answered,
  such as a 529, are retried by the client instead: they created nothing).
- **No double billing on fallback.** Only requests the batch did not answer
  (retryable errors, expired, canceled at the client's deadline) or that no batch
  exists for go to the standard API; a batch that may still answer a request
  (cancelled at the deadline but not yet ended) keeps it, and the request gets a
  retryable error instead.
- **An operator's cancel stops spending.** ``cancel(record_id, by=...)`` writes a
  ``BatchCancel`` into the record before asking the provider, so every process sees
  it: the requests it stops (``canceled``) are not sent again and their callers get
  ``BatchCanceled`` (not retryable), unless the operator chose
  ``send_rest_standard``, when the run waiting for them sends them to the standard
  API at once. Whoever polls a record whose cancel the provider has not taken yet
  (the recording process died, or the provider refused) asks the provider again.
"""

from __future__ import annotations

from llmopt.batching._client import AnthropicBatchClient
from llmopt.batching._fingerprint import fingerprint
from llmopt.batching._in_flight import InFlight
from llmopt.batching._requests import BatchOutcome, BatchRequest

__all__ = ["AnthropicBatchClient", "BatchOutcome", "BatchRequest", "InFlight", "fingerprint"]
