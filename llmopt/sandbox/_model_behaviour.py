"""How a model behaves over time: latency distributions, outage windows, rate limits.

These are the parts of a :class:`~llmopt.sandbox.FaultRule` that describe a model rather
than a single fault: ``latency`` and ``stream_chunk_delay_ms`` (a
:class:`LatencyDistribution`), ``outage`` (an :class:`Outage`) and ``rate_limit`` (a
:class:`RateLimit`). Each is written as JSON in a fault plan; see the table in
``_faults``.
"""

from __future__ import annotations

import math
from datetime import datetime
from statistics import NormalDist
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

_Z95 = NormalDist().inv_cdf(0.95)
_STANDARD_NORMAL = NormalDist()
_EDGE = 1e-12  # inv_cdf is infinite at 0 and 1


class LatencyDistribution(BaseModel):
    """A lognormal latency fitted to its median and 95th percentile, in milliseconds.

    ``{"p50_ms": 400, "p95_ms": 1500, "max_ms": 5000}``: half the draws are below 400 ms,
    95% below 1.5 s, none above ``max_ms`` (optional cap). ``p95_ms`` equal to ``p50_ms``
    is a fixed latency. Raises pydantic's ``ValidationError`` for a ``p50_ms`` not above 0,
    a ``p95_ms`` below ``p50_ms`` or a ``max_ms`` below ``p50_ms``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    p50_ms: float = Field(gt=0)
    p95_ms: float = Field(gt=0)
    max_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.p95_ms < self.p50_ms:
            raise ValueError(f"p95_ms ({self.p95_ms:g}) must be at least p50_ms ({self.p50_ms:g})")
        if self.max_ms is not None and self.max_ms < self.p50_ms:
            raise ValueError(f"max_ms ({self.max_ms:g}) must be at least p50_ms ({self.p50_ms:g})")
        return self

    def quantile_ms(self, share: float) -> float:
        """The latency at ``share`` (0 to 1) of the distribution, capped at ``max_ms``.

        Fed a uniform draw, it returns a draw of the distribution: the sandbox passes
        numbers fixed by the plan's seed, so latencies are reproducible.
        """
        sigma = math.log(self.p95_ms / self.p50_ms) / _Z95
        z = _STANDARD_NORMAL.inv_cdf(min(max(share, _EDGE), 1 - _EDGE))
        value = self.p50_ms * math.exp(sigma * z)
        return value if self.max_ms is None else min(value, self.max_ms)


class Outage(BaseModel):
    """A window in which the model answers every matching request with an error.

    ``start`` and ``end`` are either both seconds after the rule was put in force
    (``set_faults``, ``POST /_sandbox/faults``, or ``add_fault`` / ``?append=true`` for an
    added rule), or both ISO 8601 timestamps with a time zone
    (``"2026-01-01T00:05:00Z"``). Requests arriving while the sandbox clock is in
    ``[start, end)`` fail; from ``end`` on, the model answers again. Raises pydantic's
    ``ValidationError`` for a negative offset, a mix of the two kinds, or an ``end`` not
    after ``start``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: float | AwareDatetime = Field(union_mode="left_to_right")
    end: float | AwareDatetime = Field(union_mode="left_to_right")

    @model_validator(mode="after")
    def _a_window(self) -> Self:
        start, end = self.start, self.end
        if isinstance(start, datetime) and isinstance(end, datetime):
            if end <= start:
                raise ValueError("outage.end must be after outage.start")
            return self
        if isinstance(start, datetime) or isinstance(end, datetime):
            raise ValueError(
                "outage.start and outage.end must both be seconds (after the rule was set) "
                "or both ISO timestamps"
            )
        if start < 0 or end < 0:
            raise ValueError("outage.start and outage.end must not be negative seconds")
        if end <= start:
            raise ValueError("outage.end must be after outage.start")
        return self

    def contains(self, now: float, *, set_at: float) -> bool:
        """True when ``now`` (clock seconds) is in the window of a rule set at ``set_at``."""
        start, end = self.bounds(set_at)
        return start <= now < end

    def bounds(self, set_at: float) -> tuple[float, float]:
        """The window in clock seconds, for a rule put in force at ``set_at``."""
        if isinstance(self.start, datetime) and isinstance(self.end, datetime):
            return self.start.timestamp(), self.end.timestamp()
        assert not isinstance(self.start, datetime) and not isinstance(self.end, datetime)
        return set_at + self.start, set_at + self.end


class RateLimit(BaseModel):
    """At most ``requests`` (and optionally ``tokens`` input tokens) in any
    ``per_seconds`` seconds, per model: a sliding window on the sandbox clock.

    ``{"requests": 60, "per_seconds": 60}`` lets 60 requests through in any minute; the
    61st gets 429 ``rate_limit_error`` with ``retry-after`` the whole seconds until the
    oldest request in the window leaves it (at least 1). Only requests let through
    count. With ``tokens``, a request whose input tokens (the sandbox's count) would
    take the window over ``tokens`` is refused too, unless the window is empty. Raises
    pydantic's ``ValidationError`` for values below 1 (``per_seconds``: not above 0).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: int = Field(ge=1)
    per_seconds: float = Field(gt=0)
    tokens: int | None = Field(default=None, ge=1)
