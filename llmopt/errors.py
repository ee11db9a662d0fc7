"""Every error llmopt raises, under one root.

::

    LLMOptError                 anything llmopt raises on purpose
    ├── ConfigError             an optimization configuration is invalid (per-field problems)
    ├── StoreError              the store cannot be read or written
    │   ├── ConflictError       a write carried a revision that is no longer current
    │   └── RecordNotFound      an addressed entry or record does not exist
    ├── MigrationError          the aiconfigs migration cannot run (nothing was written)
    └── ProviderError           a provider API call failed; ``retryable`` says if a retry can help
        └── BatchCanceled       an operator canceled the batch before it answered this request

Catch ``LLMOptError`` to handle all of them; catch a leaf to handle one case. The
design documents' names are aliases: ``OptimizationError`` is ``LLMOptError`` and
``BatchError`` is ``ProviderError`` (what a batch that fails to answer raises).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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


OptimizationError = LLMOptError
"""The design documents' name for :class:`LLMOptError`."""

BatchError = ProviderError
"""The design documents' name for :class:`ProviderError`, which a failed batch request raises."""
