"""Fault injection: errors and latency, by rule, reproducible from a seed.

| rule field    | meaning                                                          |
|---------------|------------------------------------------------------------------|
| ``error``     | ``rate_limit`` (429), ``overloaded`` (529), ``server_error`` (500), or none |
| ``latency_ms``| added before the response starts                                 |
| ``times``     | fire for the next N matching requests, then retire (none: forever) |
| ``rate``      | chance a matching request is hit, drawn from the plan's seed     |
| ``marker``    | match only requests whose last user text contains it             |
| ``paths``     | endpoints it applies to (default ``/v1/messages``); a ``{name}`` |
|               | segment matches any one segment: ``/v1/messages/batches/{id}``   |
| ``methods``   | HTTP methods it applies to (default: all)                        |
| ``retry_after``| seconds for the ``retry-after`` header (default 1 for 429)      |
| ``should_retry``| ``x-should-retry`` header value (default ``true``)             |
| ``message``   | error message instead of Anthropic's usual one                   |

Rules are tried in order: every latency that fires adds up, and the first error that
fires answers the request. Each matching rule with ``rate`` below 1 draws once per
request, from the seed, the request (method, path, last user text) and how many times
that request has been seen since the plan was set. So the same requests fail the same
way for a seed in whatever order they arrive: a test that sends them concurrently is as
reproducible as one that sends them one by one. A retry is a new draw.

Message Batches items fail by their own rules (:class:`BatchItemFault`, the plan's
``batch_items``), decided when the batch is created, item by item in request order, from
an RNG of their own: the same sequence of creates gets the same outcomes for a seed.

| batch item field | meaning                                                        |
|------------------|----------------------------------------------------------------|
| ``outcome``      | ``api_error``, ``overloaded_error``, ``invalid_request_error``: |
|                  | the item comes back ``errored`` with that error; ``expired``:  |
|                  | the item never completes, so it expires 24 h after creation    |
| ``rate``, ``marker``, ``times``, ``message`` | as for request rules               |
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmopt.sandbox import _errors as msg
from llmopt.sandbox._errors import ApiError, ErrorType

FaultKind = Literal["rate_limit", "overloaded", "server_error"]
BatchItemOutcome = Literal["api_error", "overloaded_error", "invalid_request_error", "expired"]

_ERRORS: dict[FaultKind, tuple[ErrorType, str]] = {
    "rate_limit": ("rate_limit_error", msg.RATE_LIMITED),
    "overloaded": ("overloaded_error", msg.OVERLOADED),
    "server_error": ("api_error", msg.INTERNAL_ERROR),
}
_DEFAULT_RATE_LIMIT_RETRY_AFTER = 1.0


class FaultRule(BaseModel):
    """One way to make requests fail or slow down; see the module table for fields.

    Build one with :meth:`fail_next`, :meth:`fail_rate`, :meth:`fail_when_text_contains`
    or :meth:`delay`, or from JSON (``POST /_sandbox/faults``). Raises pydantic's
    ``ValidationError`` for a rule that does nothing or has out-of-range values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error: FaultKind | None = None
    latency_ms: float = Field(default=0.0, ge=0)
    times: int | None = Field(default=None, ge=1)
    rate: float = Field(default=1.0, ge=0, le=1)
    marker: str | None = Field(default=None, min_length=1)
    paths: tuple[str, ...] = ("/v1/messages",)
    methods: tuple[str, ...] | None = None
    retry_after: float | None = Field(default=None, ge=0)
    should_retry: bool | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.error is None and self.latency_ms == 0:
            raise ValueError("a fault rule needs an error or a latency_ms above 0")
        return self

    def applies_to(self, method: str, path: str) -> bool:
        """True when this rule covers ``method`` ``path`` (whatever its marker and rate)."""
        if self.methods is not None and method.upper() not in {m.upper() for m in self.methods}:
            return False
        return any(_path_pattern(p).match(path) for p in self.paths)

    @classmethod
    def fail_next(cls, times: int, error: FaultKind = "overloaded", **fields: Any) -> FaultRule:
        """Fail the next ``times`` requests with ``error``."""
        return cls(error=error, times=times, **fields)

    @classmethod
    def fail_rate(cls, rate: float, error: FaultKind = "overloaded", **fields: Any) -> FaultRule:
        """Fail each request with probability ``rate`` (0 to 1), from the plan's seed."""
        return cls(error=error, rate=rate, **fields)

    @classmethod
    def fail_when_text_contains(
        cls, marker: str, error: FaultKind = "server_error", **fields: Any
    ) -> FaultRule:
        """Fail requests whose last user text contains ``marker``."""
        return cls(error=error, marker=marker, **fields)

    @classmethod
    def delay(cls, latency_ms: float, **fields: Any) -> FaultRule:
        """Add ``latency_ms`` before matching responses start."""
        return cls(latency_ms=latency_ms, **fields)

    def api_error(self) -> ApiError:
        """The error response this rule sends; ``ValueError`` for a latency-only rule."""
        if self.error is None:
            raise ValueError("this rule adds latency only")
        error_type, default_message = _ERRORS[self.error]
        headers = {"x-should-retry": "false" if self.should_retry is False else "true"}
        retry_after = self.retry_after
        if retry_after is None and self.error == "rate_limit":
            retry_after = _DEFAULT_RATE_LIMIT_RETRY_AFTER
        if retry_after is not None:
            headers["retry-after"] = _seconds(retry_after)
        return ApiError(error_type, self.message or default_message, headers=headers)


class BatchItemFault(BaseModel):
    """One way to make Message Batches items fail; see the module table for fields.

    Build one with :meth:`errored` or :meth:`expire`, or from JSON (a plan's
    ``batch_items`` in ``POST /_sandbox/faults``). A request whose params are invalid
    comes back with its validation error whatever the rules say.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: BatchItemOutcome = "api_error"
    rate: float = Field(default=1.0, ge=0, le=1)
    marker: str | None = Field(default=None, min_length=1)
    times: int | None = Field(default=None, ge=1)
    message: str | None = None

    @classmethod
    def errored(
        cls, error: BatchItemOutcome = "api_error", *, rate: float = 1.0, **fields: Any
    ) -> BatchItemFault:
        """Items come back ``errored`` with ``error`` (with probability ``rate``)."""
        if error == "expired":
            raise ValueError("use BatchItemFault.expire() for items that never complete")
        return cls(outcome=error, rate=rate, **fields)

    @classmethod
    def expire(cls, *, rate: float = 1.0, **fields: Any) -> BatchItemFault:
        """Items never complete, so they expire 24 h after their batch was created."""
        return cls(outcome="expired", rate=rate, **fields)

    def default_message(self) -> str:
        """The error message an errored item carries."""
        if self.message is not None:
            return self.message
        return {
            "api_error": msg.INTERNAL_ERROR,
            "overloaded_error": msg.OVERLOADED,
            "invalid_request_error": msg.BATCH_ITEM_INVALID,
            "expired": "",
        }[self.outcome]


class FaultPlan(BaseModel):
    """The fault rules in force and the seed of their RNG.

    Pass one as ``SandboxOptions(faults=...)``, to ``SandboxServer.set_faults``, or as the
    JSON body of ``POST /_sandbox/faults`` (``{"seed": 7, "rules": [{"error":
    "overloaded", "rate": 0.2}], "batch_items": [{"outcome": "api_error", "rate":
    0.1}]}``). Setting a plan restarts its draws and rule counts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[FaultRule, ...] = ()
    batch_items: tuple[BatchItemFault, ...] = ()
    seed: int = 0


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What the faults do to one request: an error to send (or none) and extra latency."""

    error: ApiError | None
    latency_seconds: float


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@lru_cache(maxsize=256)
def _path_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")


def _batch_rng(seed: int) -> random.Random:
    return random.Random(f"llmopt-sandbox batch items {seed}")


def _request_key(method: str, path: str, text: str) -> bytes:
    return hashlib.blake2b(f"{method.upper()} {path}\0{text}".encode(), digest_size=16).digest()


def _draw(seed: int, rule: int, request: bytes, occurrence: int) -> float:
    """A number in [0, 1), fixed by the seed, the rule, the request and its occurrence."""
    key = f"{seed}:{rule}:{occurrence}:".encode() + request
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest()) / 2**64


class FaultInjector:
    """The live fault plan: thread-safe, with each rule's remaining count."""

    def __init__(self, plan: FaultPlan) -> None:
        self._lock = threading.Lock()
        self._plan = plan
        self._seen: Counter[bytes] = Counter()
        self._remaining: list[int | None] = [r.times for r in plan.rules]
        self._batch_rng = _batch_rng(plan.seed)
        self._batch_remaining: list[int | None] = [r.times for r in plan.batch_items]

    def replace(self, plan: FaultPlan) -> None:
        """Put ``plan`` in force, from its seed's first draw."""
        with self._lock:
            self._plan = plan
            self._seen.clear()
            self._remaining = [r.times for r in plan.rules]
            self._batch_rng = _batch_rng(plan.seed)
            self._batch_remaining = [r.times for r in plan.batch_items]

    def add(self, rule: FaultRule) -> None:
        """Add ``rule`` after the rules in force, keeping the count of requests seen."""
        with self._lock:
            self._plan = self._plan.model_copy(update={"rules": (*self._plan.rules, rule)})
            self._remaining.append(rule.times)

    def add_batch_item(self, rule: BatchItemFault) -> None:
        """Add a batch item rule after those in force, keeping their RNG where it is."""
        with self._lock:
            rules = (*self._plan.batch_items, rule)
            self._plan = self._plan.model_copy(update={"batch_items": rules})
            self._batch_remaining.append(rule.times)

    def decide_batch_items(
        self, count: int, text_of: Callable[[int], str]
    ) -> dict[int, BatchItemFault]:
        """The faulted items among ``count`` new batch items, by index.

        ``text_of(i)`` gives item ``i``'s last user text; it is asked only when a rule
        has a marker. The first rule that fires decides an item.
        """
        chosen: dict[int, BatchItemFault] = {}
        with self._lock:
            rules: Sequence[BatchItemFault] = self._plan.batch_items
            if not rules:
                return chosen
            markers = any(r.marker is not None for r in rules)
            for item in range(count):
                text = text_of(item) if markers else ""
                for index, rule in enumerate(rules):
                    if rule.marker is not None and rule.marker not in text:
                        continue
                    remaining = self._batch_remaining[index]
                    if remaining == 0:
                        continue
                    if rule.rate < 1 and self._batch_rng.random() >= rule.rate:
                        continue
                    if remaining is not None:
                        self._batch_remaining[index] = remaining - 1
                    chosen[item] = rule
                    break
        return chosen

    def decide(self, path: str, text: str, *, method: str = "POST") -> FaultDecision:
        """Apply the rules to one ``method`` request to ``path`` whose last user text is
        ``text``."""
        latency = 0.0
        chosen: FaultRule | None = None
        request: bytes | None = None  # counted only when a rate rule draws: no memory else
        occurrence = 0
        with self._lock:
            for index, rule in enumerate(self._plan.rules):
                if not rule.applies_to(method, path) or (
                    rule.marker is not None and rule.marker not in text
                ):
                    continue
                if self._remaining[index] == 0:
                    continue
                if rule.rate < 1:
                    if request is None:
                        request = _request_key(method, path, text)
                        occurrence = self._seen[request]
                        self._seen[request] += 1
                    if _draw(self._plan.seed, index, request, occurrence) >= rule.rate:
                        continue
                if rule.error is not None and chosen is not None:
                    continue
                remaining = self._remaining[index]
                if remaining is not None:
                    self._remaining[index] = remaining - 1
                latency += rule.latency_ms / 1000
                if rule.error is not None:
                    chosen = rule
        return FaultDecision(None if chosen is None else chosen.api_error(), latency)

    def describe(self) -> dict[str, Any]:
        """The plan in force as JSON, with how many times each rule may still fire."""
        with self._lock:
            plan = self._plan.model_dump(mode="json")
            for rule, remaining in zip(plan["rules"], self._remaining, strict=True):
                rule["remaining"] = remaining
            for item, remaining in zip(plan["batch_items"], self._batch_remaining, strict=True):
                item["remaining"] = remaining
            return plan
