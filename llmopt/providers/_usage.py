"""Token counts of one call, from Anthropic's or LangChain's usage reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


def _field(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _count(source: Any, name: str) -> int:
    value = _field(source, name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"usage field {name!r} must be an integer token count, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """The tokens one call consumed, split the way they are billed.

    Use it to price a call (:func:`cost_of`) or to add up usage. Build it from a
    provider's report with :meth:`from_anthropic` or :meth:`from_langchain` rather
    than by hand; ``input_tokens`` counts only the uncached input. Raises
    ``ValueError`` for a negative count.
    """

    input_tokens: int
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    batch: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "batch" and value < 0:
                raise ValueError(f"{f.name} must not be negative, got {value}")

    def __add__(self, other: TokenUsage) -> TokenUsage:
        """The usage of two calls together; both must be billed alike (batch or not)."""
        if self.batch != other.batch:
            raise ValueError("cannot add batch and standard usage: they are priced apart")
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            cache_write_5m_tokens=self.cache_write_5m_tokens + other.cache_write_5m_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            batch=self.batch,
        )

    @property
    def total_input_tokens(self) -> int:
        """All input tokens: uncached, written to the cache and read from it."""
        return (
            self.input_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )

    @classmethod
    def from_anthropic(cls, usage: Mapping[str, Any] | Any) -> TokenUsage:
        """Usage from Anthropic's raw ``usage``: a dict or the SDK's ``Usage`` object.

        Use it on Messages and Message Batches results. Missing counters count as 0;
        without a per-TTL breakdown all cache writes count as 5-minute writes. A
        ``service_tier`` of ``batch`` marks the usage as billed at the batch price.
        Raises ``TypeError`` when a counter is not an integer.
        """
        breakdown = _field(usage, "cache_creation")
        write_5m = _count(breakdown, "ephemeral_5m_input_tokens")
        write_1h = _count(breakdown, "ephemeral_1h_input_tokens")
        if write_5m + write_1h == 0:
            write_5m = _count(usage, "cache_creation_input_tokens")
        return cls(
            input_tokens=_count(usage, "input_tokens"),
            cache_write_5m_tokens=write_5m,
            cache_write_1h_tokens=write_1h,
            cache_read_tokens=_count(usage, "cache_read_input_tokens"),
            output_tokens=_count(usage, "output_tokens"),
            batch=_field(usage, "service_tier") == "batch",
        )

    @classmethod
    def from_langchain(
        cls, usage_metadata: Mapping[str, Any], *, batch: bool = False
    ) -> TokenUsage:
        """Usage from a LangChain message's ``usage_metadata``.

        Use it in callbacks and wrappers around chat models. LangChain's
        ``input_tokens`` include cache reads and writes; they are taken out again
        so nothing is counted twice. Pass ``batch=True`` for results of a Batch API.
        Raises ``TypeError`` when a counter is not an integer.
        """
        details = _field(usage_metadata, "input_token_details")
        read = _count(details, "cache_read")
        write_5m = _count(details, "ephemeral_5m_input_tokens")
        write_1h = _count(details, "ephemeral_1h_input_tokens")
        # langchain-anthropic zeroes the generic counter when it reports per-TTL ones.
        if write_5m + write_1h == 0:
            write_5m = _count(details, "cache_creation")
        total = _count(usage_metadata, "input_tokens")
        return cls(
            # A total below its cached parts is inconsistent; keep the billed parts.
            input_tokens=max(0, total - read - write_5m - write_1h),
            cache_write_5m_tokens=write_5m,
            cache_write_1h_tokens=write_1h,
            cache_read_tokens=read,
            output_tokens=_count(usage_metadata, "output_tokens"),
            batch=batch,
        )
