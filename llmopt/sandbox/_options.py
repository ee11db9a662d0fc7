"""How a sandbox server is set up."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from llmopt.sandbox._clock import Clock
from llmopt.sandbox._faults import FaultPlan

MESSAGES_MAX_BYTES = 32 * 1024 * 1024
"""The Messages API's request size limit (32 MB); larger bodies get 413."""


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
