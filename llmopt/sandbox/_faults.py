"""Fault injection and per-model behaviour: errors, latency, outages, rate limits, slow
streams, by rule, reproducible from a seed.

| rule field    | meaning                                                          |
|---------------|------------------------------------------------------------------|
| ``error``     | ``rate_limit`` (429), ``overloaded`` (529), ``server_error`` (500), |
|               | ``timeout`` (hang ``hang_ms``, then 504 ``timeout_error``; Ollama |
|               | 504, OpenAI's envelope 500 ``server_error`` for now), or none    |
| ``hang_ms``   | with ``timeout`` (required there, refused elsewhere): how long the |
|               | response is held before the 504; a client whose timeout is       |
|               | shorter sees its own timeout (``APITimeoutError``)               |
| ``latency_ms``| fixed milliseconds added before the response starts              |
| ``latency``   | a drawn latency, added to ``latency_ms``: ``{"p50_ms": 400,``    |
|               | ``"p95_ms": 1500, "max_ms": 5000}`` (lognormal fitted to p50 and |
|               | p95; ``max_ms`` optional cap), drawn from the seed like ``rate`` |
| ``stream_chunk_delay_ms`` | wait between the chunks (events) of a streamed answer: |
|               | milliseconds, or a distribution like ``latency`` drawn per chunk |
| ``outage``    | ``{"start": 0, "end": 300}``: the rule fires only while the sandbox |
|               | clock is in ``[start, end)``, seconds after the rule was put in   |
|               | force, or ISO timestamps with a zone (``"2026-01-01T00:05:00Z"``); |
|               | its ``error`` defaults to ``overloaded``                          |
| ``rate_limit``| ``{"requests": N, "per_seconds": S, "tokens": T}``: at most N      |
|               | requests (and T input tokens, optional) in any S seconds, a       |
|               | sliding window per model on the sandbox clock; then 429 with      |
|               | ``retry-after`` = whole seconds until one fits (at least 1)       |
| ``times``     | fire for the next N matching requests, then retire (none: forever) |
| ``rate``      | chance a matching request is hit, drawn from the plan's seed     |
| ``marker``    | match only requests whose last user text contains it             |
| ``models``    | match only requests whose body's ``model`` is one of these: exact |
|               | names or globs (``gpt-5.4*``); requests without one never match  |
| ``paths``     | endpoints it applies to: default ``/v1/messages``, or with       |
|               | ``models`` the three chat endpoints ``/v1/messages``,            |
|               | ``/v1/chat/completions`` and ``/api/chat``; a ``{name}`` segment |
|               | matches any one segment: ``/v1/messages/batches/{id}``           |
| ``methods``   | HTTP methods it applies to (default: all)                        |
| ``retry_after``| seconds for the ``retry-after`` header (default 1 for 429)      |
| ``should_retry``| ``x-should-retry`` header value (default ``true``)             |
| ``message``   | error message instead of Anthropic's usual one                   |

Rules are tried in order. A rule fires for a request that matches it (``paths``,
``methods``, ``models``, ``marker``), while it has ``times`` left, inside its ``outage``
window if it has one, and when its ``rate`` draw hits. Every latency and chunk delay of
the rules that fire adds up, and the first error that fires answers the request (a rule
with an error is skipped once an earlier one chose the error). A ``rate_limit`` rule
counts every request it matches in its window and answers 429 when the window is full;
it takes no ``error``, ``outage``, ``times``, ``rate`` or ``retry_after``. Its latency
applies to every request it matches. A rule that only has ``latency`` but a ``rate``
delays that share of requests: give a model's latency a rule of its own beside a rule
that fails a share of its requests.

Every drawn number (``rate``, ``latency``, each chunk delay) comes from the seed, the
rule, the request (method, path, last user text, and the model for a rule with
``models``) and how many times that request has been seen since the plan was set. So the
same requests fail and wait the same way for a seed in whatever order they arrive: a
test that sends them concurrently is as reproducible as one that sends them one by one.
A retry is a new draw. Outages and rate limits depend on the clock only.

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
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, model_validator

from llmopt.sandbox import _errors as msg
from llmopt.sandbox._clock import Clock
from llmopt.sandbox._errors import ApiError, ErrorType
from llmopt.sandbox._model_behaviour import LatencyDistribution, Outage, RateLimit
from llmopt.sandbox._rate_window import RateWindow

FaultKind = Literal["rate_limit", "overloaded", "server_error", "timeout"]
BatchItemOutcome = Literal["api_error", "overloaded_error", "invalid_request_error", "expired"]

MESSAGES_PATHS: tuple[str, ...] = ("/v1/messages",)
"""Where a rule without ``models`` applies unless it names ``paths``."""
CHAT_PATHS: tuple[str, ...] = ("/v1/messages", "/v1/chat/completions", "/api/chat")
"""Where a rule with ``models`` applies unless it names ``paths``: every chat endpoint."""

_ERRORS: dict[FaultKind, tuple[ErrorType, str]] = {
    "rate_limit": ("rate_limit_error", msg.RATE_LIMITED),
    "overloaded": ("overloaded_error", msg.OVERLOADED),
    "server_error": ("api_error", msg.INTERNAL_ERROR),
    "timeout": ("api_error", "Request timed out"),  # sent as 504 timeout_error
}
_DEFAULT_RATE_LIMIT_RETRY_AFTER = 1.0


class GatewayTimeout(ApiError):
    """The 504 ``timeout_error`` Anthropic answers when a request took too long.

    The ``anthropic`` SDK raises ``GatewayTimeoutError`` (an ``InternalServerError``) for
    it and retries it like other 5xx.
    """

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__("api_error", message, headers=headers)
        self.status = 504

    def body(self, request_id: str) -> dict[str, Any]:
        body = super().body(request_id)
        body["error"]["type"] = "timeout_error"
        return body


class FaultRule(BaseModel):
    """One way to make requests fail or slow down, or one trait of a model's behaviour;
    see the module table for fields.

    Build one with :meth:`fail_next`, :meth:`fail_rate`, :meth:`fail_when_text_contains`,
    :meth:`delay`, :meth:`slow`, :meth:`slow_stream`, :meth:`outage_between`,
    :meth:`rate_limited` or :meth:`hang`, or from JSON (``POST /_sandbox/faults``).
    Raises pydantic's ``ValidationError`` for a rule that does nothing, out-of-range
    values, unknown fields, or fields that do not go together (each message names the
    field).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error: FaultKind | None = None
    hang_ms: float | None = Field(default=None, gt=0)
    latency_ms: float = Field(default=0.0, ge=0)
    latency: LatencyDistribution | None = None
    stream_chunk_delay_ms: NonNegativeFloat | LatencyDistribution = 0.0
    outage: Outage | None = None
    rate_limit: RateLimit | None = None
    times: int | None = Field(default=None, ge=1)
    rate: float = Field(default=1.0, ge=0, le=1)
    marker: str | None = Field(default=None, min_length=1)
    models: tuple[str, ...] | None = Field(default=None, min_length=1)
    paths: tuple[str, ...] = MESSAGES_PATHS
    methods: tuple[str, ...] | None = None
    retry_after: float | None = Field(default=None, ge=0)
    should_retry: bool | None = None
    message: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_paths(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("paths") is None and data.get("models"):
            return {**data, "paths": CHAT_PATHS}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not (
            self.error
            or self.latency_ms
            or self.latency
            or self.stream_chunk_delay_ms
            or self.outage
            or self.rate_limit
        ):
            raise ValueError(
                "a fault rule needs an error or a latency_ms above 0 (or latency, "
                "stream_chunk_delay_ms, outage or rate_limit)"
            )
        if self.models is not None and not all(self.models):
            raise ValueError("models: a model name must not be empty")
        if self.fault_kind == "timeout" and self.hang_ms is None:
            raise ValueError("hang_ms: a timeout error needs hang_ms (how long it hangs)")
        if self.hang_ms is not None and self.fault_kind != "timeout":
            raise ValueError('hang_ms: only a rule with error "timeout" hangs')
        if self.rate_limit is not None:
            clashing = [
                name
                for name, clash in (
                    ("error", self.error is not None),
                    ("outage", self.outage is not None),
                    ("times", self.times is not None),
                    ("rate", self.rate < 1),
                    ("retry_after", self.retry_after is not None),
                )
                if clash
            ]
            if clashing:
                raise ValueError(
                    f"rate_limit: a rate-limit rule cannot also have {', '.join(clashing)} "
                    "(it answers 429 with retry-after from its window); use another rule"
                )
        return self

    @property
    def fault_kind(self) -> FaultKind | None:
        """The error this rule answers with when it fires: ``error``, or ``overloaded``
        for an outage without one."""
        if self.error is None and self.outage is not None:
            return "overloaded"
        return self.error

    def applies_to(self, method: str, path: str) -> bool:
        """True when this rule covers ``method`` ``path`` (whatever its marker and rate)."""
        if self.methods is not None and method.upper() not in {m.upper() for m in self.methods}:
            return False
        return any(_path_pattern(p).match(path) for p in self.paths)

    def matches(self, text: str, model: str | None) -> bool:
        """True when the request's last user ``text`` and ``model`` fit the rule's
        ``marker`` and ``models``."""
        if self.marker is not None and self.marker not in text:
            return False
        if self.models is None:
            return True
        return model is not None and any(fnmatchcase(model, m) for m in self.models)

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

    @classmethod
    def slow(
        cls, p50_ms: float, p95_ms: float, *, max_ms: float | None = None, **fields: Any
    ) -> FaultRule:
        """Add a latency drawn from a lognormal with this median and 95th percentile."""
        latency = LatencyDistribution(p50_ms=p50_ms, p95_ms=p95_ms, max_ms=max_ms)
        return cls(latency=latency, **fields)

    @classmethod
    def slow_stream(
        cls, chunk_delay_ms: float | LatencyDistribution | Mapping[str, float], **fields: Any
    ) -> FaultRule:
        """Wait ``chunk_delay_ms`` (or a draw of that distribution) between streamed chunks."""
        return cls(stream_chunk_delay_ms=chunk_delay_ms, **fields)

    @classmethod
    def outage_between(
        cls, start: Any, end: Any, error: FaultKind = "overloaded", **fields: Any
    ) -> FaultRule:
        """Fail requests arriving in ``[start, end)``: seconds after the rule is put in
        force, or timezone-aware datetimes / ISO timestamps."""
        return cls(outage=Outage(start=start, end=end), error=error, **fields)

    @classmethod
    def rate_limited(
        cls, requests: int, per_seconds: float, *, tokens: int | None = None, **fields: Any
    ) -> FaultRule:
        """Let at most ``requests`` (and ``tokens`` input tokens) through in any
        ``per_seconds`` seconds, per model; 429 with ``retry-after`` beyond."""
        limit = RateLimit(requests=requests, per_seconds=per_seconds, tokens=tokens)
        return cls(rate_limit=limit, **fields)

    @classmethod
    def hang(cls, hang_ms: float, **fields: Any) -> FaultRule:
        """Hold matching requests ``hang_ms``, then answer 504 ``timeout_error``."""
        return cls(error="timeout", hang_ms=hang_ms, **fields)

    def api_error(self, *, retry_after: float | None = None) -> ApiError:
        """The error response this rule sends; ``ValueError`` for a latency-only rule.

        ``retry_after`` (seconds) overrides the rule's own, as a rate limit's window does.
        """
        kind = "rate_limit" if self.rate_limit is not None else self.fault_kind
        if kind is None:
            raise ValueError("this rule adds latency only")
        error_type, default_message = _ERRORS[kind]
        headers = {"x-should-retry": "false" if self.should_retry is False else "true"}
        if retry_after is None:
            retry_after = self.retry_after
        if retry_after is None and kind == "rate_limit":
            retry_after = _DEFAULT_RATE_LIMIT_RETRY_AFTER
        if retry_after is not None:
            headers["retry-after"] = _seconds(retry_after)
        if kind == "timeout":
            return GatewayTimeout(self.message or default_message, headers=headers)
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
    0.1}]}``). Setting a plan restarts its draws, rule counts and rate-limit windows, and
    starts the clock its rules' relative ``outage`` times count from.

    Per-model behaviour can be written by model instead of as rules with ``models``:
    ``{"models": {"gpt-5.4-mini": {"latency": {"p50_ms": 400, "p95_ms": 1500}},
    "claude-*": [{"error": "overloaded", "rate": 0.05}, {"rate_limit": {"requests": 50,
    "per_seconds": 60}}]}}``. Each model name (or glob) maps to a rule or a list of rules
    (without ``models``), which become rules matching only that model, on the chat
    endpoints unless they name ``paths``, placed after ``rules`` in the order given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[FaultRule, ...] = ()
    batch_items: tuple[BatchItemFault, ...] = ()
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _rules_by_model(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "models" not in data:
            return data
        data = dict(data)
        behaviours = data.pop("models")
        if not isinstance(behaviours, Mapping):
            raise ValueError("models: expected an object of model name to rule or rules")
        data["rules"] = [*data.get("rules", ()), *_rules_for_models(behaviours)]
        return data

    @classmethod
    def for_models(cls, behaviours: Mapping[str, ModelBehaviour], *, seed: int = 0) -> FaultPlan:
        """A plan of per-model rules (see the class docs for the shape of ``behaviours``).

        Raises pydantic's ``ValidationError`` for a bad rule or a rule that names
        ``models`` itself.
        """
        return cls.model_validate({"models": behaviours, "seed": seed})


def _rules_for_models(behaviours: Mapping[Any, Any]) -> list[Any]:
    rules: list[Any] = []
    for model, behaviour in behaviours.items():
        listed = [behaviour] if isinstance(behaviour, FaultRule | Mapping) else behaviour
        if not isinstance(listed, Sequence) or isinstance(listed, str):
            raise ValueError(f"models.{model}: expected a rule or a list of rules")
        for rule in listed:
            if isinstance(rule, FaultRule):
                rule = rule.model_dump(exclude_unset=True)
            if not isinstance(rule, Mapping):
                raise ValueError(f"models.{model}: expected a rule or a list of rules")
            if rule.get("models") is not None:
                raise ValueError(f"models.{model}: a rule listed under a model names no models")
            rules.append({**rule, "models": (model,)})
    return rules


ModelBehaviour = FaultRule | Mapping[str, Any] | Sequence[FaultRule | Mapping[str, Any]]
"""What a model maps to in :meth:`FaultPlan.for_models`: one rule or several."""


@dataclass(frozen=True, slots=True)
class ChunkDelay:
    """One rule's wait between the chunks of one streamed answer."""

    spec: float | LatencyDistribution
    seed: int
    rule: int
    request: bytes
    occurrence: int

    def seconds(self, chunk: int) -> float:
        """The wait before chunk ``chunk`` (1 for the second chunk, and so on)."""
        if isinstance(self.spec, LatencyDistribution):
            share = _draw(self.seed, self.rule, self.request, self.occurrence, f"chunk {chunk}")
            return self.spec.quantile_ms(share) / 1000
        return self.spec / 1000


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What the faults do to one request: an error to send (or none), extra latency
    (a timeout's hang included) and the waits between streamed chunks."""

    error: ApiError | None
    latency_seconds: float
    chunk_delays: tuple[ChunkDelay, ...] = ()

    @property
    def slows_streams(self) -> bool:
        """True when a streamed answer waits between its chunks."""
        return bool(self.chunk_delays)

    def chunk_delay_seconds(self, chunk: int) -> float:
        """Seconds to wait before sending chunk ``chunk`` (numbered from 0) of a stream."""
        if chunk <= 0:
            return 0.0
        return sum(delay.seconds(chunk) for delay in self.chunk_delays)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@lru_cache(maxsize=256)
def _path_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")


def _batch_rng(seed: int) -> random.Random:
    return random.Random(f"llmopt-sandbox batch items {seed}")


def _request_key(method: str, path: str, text: str, model: str | None = None) -> bytes:
    key = f"{method.upper()} {path}\0{text}"
    if model is not None:  # only rules with models draw per model: old draws stay as they were
        key += f"\0{model}"
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


def _draw(seed: int, rule: int, request: bytes, occurrence: int, purpose: str = "") -> float:
    """A number in [0, 1), fixed by the seed, the rule, the request, its occurrence and
    what it is drawn for (the ``rate`` draw has no purpose, as before latencies existed)."""
    key = f"{seed}:{rule}:{occurrence}:".encode()
    if purpose:
        key += f"{purpose}:".encode()
    key += request
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest()) / 2**64


class FaultInjector:
    """The live fault plan: thread-safe, with each rule's remaining count, when it was put
    in force (on ``clock``) and its rate-limit windows."""

    def __init__(self, plan: FaultPlan, *, clock: Clock = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._seen: Counter[bytes] = Counter()
        self._install(plan)

    def _install(self, plan: FaultPlan) -> None:
        now = self._clock()
        self._plan = plan
        self._seen.clear()
        self._remaining: list[int | None] = [r.times for r in plan.rules]
        self._set_at: list[float] = [now for _ in plan.rules]
        self._windows: dict[tuple[int, str | None], RateWindow] = {}
        self._batch_rng = _batch_rng(plan.seed)
        self._batch_remaining: list[int | None] = [r.times for r in plan.batch_items]

    def replace(self, plan: FaultPlan) -> None:
        """Put ``plan`` in force, from its seed's first draw, with empty rate-limit windows;
        its rules' relative outage times count from now."""
        with self._lock:
            self._install(plan)

    def add(self, rule: FaultRule) -> None:
        """Add ``rule`` after the rules in force, keeping the count of requests seen; its
        relative outage times count from now."""
        with self._lock:
            self._plan = self._plan.model_copy(update={"rules": (*self._plan.rules, rule)})
            self._remaining.append(rule.times)
            self._set_at.append(self._clock())

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

    def decide(
        self,
        path: str,
        text: str,
        *,
        model: str | None = None,
        method: str = "POST",
        input_tokens: Callable[[], int] | None = None,
    ) -> FaultDecision:
        """Apply the rules to one ``method`` request to ``path`` for ``model`` (the body's
        ``model``; None: rules with ``models`` do not match) whose last user text is
        ``text``. ``input_tokens()`` gives its input token count; it is asked only by a
        rate limit with ``tokens``."""
        latency = 0.0
        chosen: ApiError | None = None
        chunk_delays: list[ChunkDelay] = []
        # Each request is counted only when a rule draws for it: no memory else.
        requests: dict[str | None, tuple[bytes, int]] = {}

        def request(per_model: str | None) -> tuple[bytes, int]:
            if per_model not in requests:
                key = _request_key(method, path, text, per_model)
                requests[per_model] = (key, self._seen[key])
                self._seen[key] += 1
            return requests[per_model]

        with self._lock:
            now = self._clock()
            seed = self._plan.seed
            for index, rule in enumerate(self._plan.rules):
                if not rule.applies_to(method, path) or not rule.matches(text, model):
                    continue
                if self._remaining[index] == 0:
                    continue
                if rule.outage is not None and not rule.outage.contains(
                    now, set_at=self._set_at[index]
                ):
                    continue
                keyed = model if rule.models is not None else None
                if rule.rate < 1:
                    key, occurrence = request(keyed)
                    if _draw(seed, index, key, occurrence) >= rule.rate:
                        continue
                errs = rule.fault_kind is not None or rule.rate_limit is not None
                if errs and chosen is not None:
                    continue
                if rule.rate_limit is not None:
                    window = self._windows.get((index, model))
                    if window is None:
                        window = self._windows[index, model] = RateWindow(rule.rate_limit)
                    tokens = 0
                    if rule.rate_limit.tokens is not None and input_tokens is not None:
                        tokens = input_tokens()
                    wait = window.admit(now, tokens)
                    if wait is not None:
                        chosen = rule.api_error(retry_after=wait)
                remaining = self._remaining[index]
                if remaining is not None:
                    self._remaining[index] = remaining - 1
                latency += rule.latency_ms / 1000
                if rule.latency is not None:
                    key, occurrence = request(keyed)
                    share = _draw(seed, index, key, occurrence, "latency")
                    latency += rule.latency.quantile_ms(share) / 1000
                if rule.stream_chunk_delay_ms:
                    key, occurrence = request(keyed)
                    spec = rule.stream_chunk_delay_ms
                    chunk_delays.append(ChunkDelay(spec, seed, index, key, occurrence))
                if rule.fault_kind is not None:
                    chosen = rule.api_error()
                    latency += (rule.hang_ms or 0) / 1000
        return FaultDecision(chosen, latency, tuple(chunk_delays))

    def describe(self) -> dict[str, Any]:
        """The plan in force as JSON, with how many times each rule may still fire."""
        with self._lock:
            plan = self._plan.model_dump(mode="json")
            for rule, remaining in zip(plan["rules"], self._remaining, strict=True):
                rule["remaining"] = remaining
            for item, remaining in zip(plan["batch_items"], self._batch_remaining, strict=True):
                item["remaining"] = remaining
            return plan
