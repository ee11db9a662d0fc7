"""Every error llmopt raises, under one root.

::

    LLMOptError                 anything llmopt raises on purpose
    ├── ConfigError             an optimization configuration is invalid (per-field problems)
    ├── StoreError              the store cannot be read or written
    │   ├── ConflictError       a write carried a revision that is no longer current
    │   └── RecordNotFound      an addressed entry or record does not exist
    ├── MigrationError          the aiconfigs migration cannot run (nothing was written)
    ├── BudgetExceeded          a ``refuse`` budget is spent for its period (the call was not made)
    ├── NoEligibleEntry         no entry can serve a request (capabilities, privacy, rules)
    └── ProviderError           a provider API call failed; ``retryable`` says if a retry can help
        ├── BatchCanceled       an operator canceled the batch before it answered this request
        └── NoHealthyEntry      no entry of a fallback chain could answer (each skipped or failed)

Catch ``LLMOptError`` to handle all of them; catch a leaf to handle one case. The
design documents' names are aliases: ``OptimizationError`` is ``LLMOptError`` and
``BatchError`` is ``ProviderError`` (what a batch that fails to answer raises).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class LLMOptError(Exception):
    """Root of every error llmopt raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One problem with one field, as a sentence a person can act on.

    ``field`` is the camelCase name admins see (``cacheTTL``); ``""`` means the
    configuration as a whole. ``message`` is a whole sentence that names the field,
    so it reads well both beside a form field and on its own in a log.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def problems_of(exc: ValidationError, where: str, *, unknown: str) -> list[FieldProblem]:
    """A pydantic ``ValidationError``'s errors as problems named ``where.<field>``;
    a field the model does not know gets ``unknown`` ("is not a routing setting")."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in (where, *error["loc"]))
        message = (
            unknown
            if error["type"] == "extra_forbidden"
            else str(error["msg"]).removeprefix("Value error, ")
        )
        problems.append(FieldProblem(field, f"{field}: {message}"))
    return problems


class ConfigError(LLMOptError, ValueError):
    """Raised when an optimization configuration is invalid.

    ``problems`` lists every problem found, not just the first, so a form or an
    API response can show them all at once, each beside its field.
    """

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid configuration")

    def by_field(self) -> dict[str, list[str]]:
        """The messages grouped by field name, in the order they were found."""
        grouped: dict[str, list[str]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.field, []).append(problem.message)
        return grouped


class StoreError(LLMOptError):
    """Raised when the store cannot be read or written (connection, schema, corrupt data)."""


class ConflictError(StoreError):
    """Raised when a write carried a revision that is no longer current.

    Someone else wrote first; nothing was written. Re-read, re-apply, retry.
    ``current_revision`` is the revision that won, when the store knows it.
    """

    def __init__(self, message: str, *, current_revision: str | None = None) -> None:
        self.current_revision = current_revision
        super().__init__(message)


class RecordNotFound(StoreError, LookupError):
    """Raised when an addressed configuration entry or record does not exist."""


class MigrationError(LLMOptError):
    """Raised when the aiconfigs migration cannot run; nothing was written."""


class ProviderError(LLMOptError):
    """Raised when a provider API call fails.

    ``retryable`` is true for failures a later retry may cure (rate limits,
    overload, server errors) and false for ones it cannot (a bad request).
    """

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        self.retryable = retryable
        self.status_code = status_code
        super().__init__(message)


class BatchCanceled(ProviderError):
    """Raised (or set as a ``BatchOutcome.error``) for a request that an operator's cancel
    stopped: its batch ended it ``canceled`` and it was not sent anywhere else.

    An operator's cancel means "stop spending": the request is not answered and nothing
    more is billed for it, so the caller must decide what to do (send it again later,
    give up). It is never retried for you, hence ``retryable`` is false. ``batch_id`` is
    the ledger's id, ``provider_batch_id`` the provider's; ``canceled_by`` and
    ``reason`` say who canceled it and why, when the ledger recorded it. A cancel the
    batch client makes itself at its ``deadline`` does not raise this: those requests
    go to the standard API (``fallback_to_standard``) as before.
    """

    def __init__(
        self,
        message: str,
        *,
        batch_id: str,
        provider_batch_id: str | None = None,
        canceled_by: str | None = None,
        reason: str = "",
    ) -> None:
        self.batch_id = batch_id
        self.provider_batch_id = provider_batch_id
        self.canceled_by = canceled_by
        self.reason = reason
        super().__init__(message, retryable=False)


class NoEligibleEntry(LLMOptError, ValueError):
    """Raised by the routed model when no entry can serve a request at all: none takes
    what it needs (tools, images, structured output, its length), its privacy or the
    rules leave none. Nothing was called; retrying the same request cannot help.
    ``excluded`` lists ``(entry_key, why)``; the message says it in one sentence.
    """

    def __init__(self, reason: str, excluded: Iterable[tuple[str, str]] = ()) -> None:
        self.excluded: tuple[tuple[str, str], ...] = tuple(excluded)
        super().__init__(reason)


class BudgetExceeded(LLMOptError):
    """Raised before a call when a budget whose ``atLimit`` is ``refuse`` is already at or
    over its limit for the current period; the call was not made and nothing was charged.

    ``budget`` names it; ``spent_usd``/``spent_tokens`` and ``limit_usd``/``limit_tokens``
    say how far it went (a limit the budget does not set is ``None``); ``period`` is
    ``"day"`` or ``"month"`` (UTC), ``period_start`` when it began and ``resets_at`` when
    the next one starts. Waiting for ``resets_at`` (or raising the limit) is the cure.
    """

    def __init__(
        self,
        message: str,
        *,
        budget: str,
        spent_usd: float,
        spent_tokens: int,
        limit_usd: float | None,
        limit_tokens: int | None,
        period: str,
        period_start: datetime,
        resets_at: datetime,
    ) -> None:
        self.budget = budget
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens
        self.limit_usd = limit_usd
        self.limit_tokens = limit_tokens
        self.period = period
        self.period_start = period_start
        self.resets_at = resets_at
        super().__init__(message)


class NoHealthyEntry(ProviderError):
    """Raised by a failover handler when no entry of its fallback chain answered: each
    was skipped (its circuit is open) or failed, and no stored response stood in.

    ``tried`` lists ``(entry_key, why)`` in chain order, ``why`` a short phrase
    ("skipped: circuit open until ...", "failed: overload: ..."). When every circuit
    is open it is raised at once, without calling anything. ``retryable`` is true: the
    circuits close again after their cool-down. The last entry's error, if one was
    called, is the ``__cause__``.
    """

    def __init__(self, tried: Iterable[tuple[str, str]]) -> None:
        self.tried: tuple[tuple[str, str], ...] = tuple(tried)
        listed = "; ".join(f"{key}: {why}" for key, why in self.tried) or "the chain is empty"
        super().__init__(f"no healthy entry could answer ({listed})", retryable=True)


class OrchestrationFailed(ProviderError):
    """Raised by an orchestrated entry when its strategy got no answer at all: every call
    it made failed or timed out. The message names each call's error. ``retryable`` is
    true, so failover moves on to the next entry of the chain."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


OptimizationError = LLMOptError
"""The design documents' name for :class:`LLMOptError`."""

BatchError = ProviderError
"""The design documents' name for :class:`ProviderError`, which a failed batch request raises."""
