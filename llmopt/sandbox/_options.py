"""How a sandbox server is set up."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from llmopt.sandbox._clock import Clock
from llmopt.sandbox._faults import FaultPlan

API_KEYS_VARIABLE = "LLMOPT_SANDBOX_API_KEYS"
"""The environment variable ``python -m llmopt.sandbox`` reads the keys it accepts from,
comma-separated; a parent process passes keys there rather than on the command line,
where other users could read them in ``ps``."""

MESSAGES_MAX_BYTES = 32 * 1024 * 1024
"""The Messages API's request size limit (32 MB); larger bodies get 413."""

BATCH_MAX_BYTES = 256 * 1024 * 1024
"""The Message Batches API's create size limit (256 MB); larger bodies get 413."""

BATCH_MAX_REQUESTS = 100_000
"""The most requests one Message Batch may hold."""

DEFAULT_OLLAMA_MODELS: tuple[str, ...] = (
    "llama3.1:8b",
    "llama3.1:latest",
    "qwen3:8b",
    "mistral:7b",
)
"""The models the sandbox's Ollama stand-in has "pulled" unless told otherwise
(``llama3.1:latest`` is what ``ollama pull llama3.1`` gives: the 8b)."""


class BatchOptions(BaseModel):
    """How the sandbox's Message Batches behave; ``SandboxOptions(batches=...)``.

    | option            | default  | meaning                                              |
    |-------------------|----------|------------------------------------------------------|
    | ``item_seconds``  | ``0``    | clock seconds each request takes; ``0``: instant, the |
    |                   |          | batch has ended by the first retrieve after create   |
    | ``parallelism``   | ``100``  | requests processed at once (one "wave"): a batch     |
    |                   |          | takes ``ceil(n / parallelism) * item_seconds``       |
    | ``cache_hit_ratio``| ``1.0`` | share of the cache hits the simulation finds that    |
    |                   |          | are kept; the rest miss and write (seeded by ``seed``|
    |                   |          | and each ``custom_id``)                              |
    | ``seed``          | ``0``    | seed of the results order and the cache hit draw     |
    | ``max_requests``  | 100,000  | more requests in one create get 400                  |
    | ``max_bytes``     | 256 MB   | larger create bodies get 413 ``request_too_large``   |

    Requests in a wave look the prompt cache up together and write it together, so
    identical prompts in one wave all write (as concurrent requests do) and later waves
    read. Timing is measured on the sandbox clock: with a :class:`ManualClock` a slow
    batch moves only when the test advances it. Raises pydantic's ``ValidationError``
    for out-of-range values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_seconds: float = Field(default=0.0, ge=0)
    parallelism: int = Field(default=100, ge=1)
    cache_hit_ratio: float = Field(default=1.0, ge=0, le=1)
    seed: int = 0
    max_requests: int = Field(default=BATCH_MAX_REQUESTS, ge=1)
    max_bytes: int = Field(default=BATCH_MAX_BYTES, ge=1)


class SandboxOptions(BaseModel):
    """Settings of a :class:`~llmopt.sandbox.SandboxServer`.

    | option              | default          | meaning                                         |
    |---------------------|------------------|-------------------------------------------------|
    | ``host``            | ``127.0.0.1``    | interface to listen on                          |
    | ``port``            | ``0``            | ``0``: a free port, see ``base_url``            |
    | ``latency_ms``      | ``0``            | added before every API response starts          |
    | ``faults``          | no rules         | a :class:`FaultPlan` of errors and latency      |
    | ``clock``           | ``time.time``    | seconds since the epoch: cache TTLs, price day  |
    | ``api_keys``        | ``None``         | keys accepted; ``None`` accepts any non-empty key |
    | ``max_request_bytes``| 32 MB           | larger request bodies get 413                   |
    | ``batches``         | ``BatchOptions()``| Message Batches timing, limits, cache hits     |
    | ``data_dir``        | ``None``         | keep batches, results and billing here across   |
    |                     |                  | restarts; ``None``: in memory only              |
    | ``ollama_models``   | llama3.1:8b,     | models ``GET /api/tags`` lists and ``/api/chat``|
    |                     | llama3.1:latest, | serves (a name without a tag means ``:latest``);|
    |                     | qwen3:8b,        | others get 404 ``model 'x' not found``          |
    |                     | mistral:7b       |                                                 |

    Raises pydantic's ``ValidationError`` for out-of-range values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    latency_ms: float = Field(default=0.0, ge=0)
    faults: FaultPlan = FaultPlan()
    clock: Clock = time.time
    api_keys: frozenset[str] | None = None
    max_request_bytes: int = Field(default=MESSAGES_MAX_BYTES, ge=1)
    batches: BatchOptions = BatchOptions()
    data_dir: Path | None = None
    ollama_models: tuple[str, ...] = DEFAULT_OLLAMA_MODELS
