"""Saving the document's ``budgets`` list: validated, optimistic, audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmopt.config import AIConfigDocument, check_reason, load_document
from llmopt.errors import ConfigError, ConflictError, FieldProblem
from llmopt.store import AuditEvent, DocumentName, Store

from ._budget_settings import BudgetSettings

BUDGETS = "budgets"
ACTION_UPDATE_BUDGETS = "budgets.update"


def update_budgets(
    store: Store,
    budgets: Sequence[Mapping[str, Any]],
    *,
    expected_revision: str,
    actor: str,
    reason: str = "",
) -> AIConfigDocument:
    """Replace the document's ``budgets`` list with ``budgets`` and save.

    ``budgets`` is validated first (:meth:`BudgetSettings.load_list`); an invalid one
    raises :class:`~llmopt.errors.ConfigError` with every problem and writes nothing. A
    document changed since ``expected_revision`` raises
    :class:`~llmopt.errors.ConflictError`. The rest of the document is kept; the write
    and its audit record (before and after) are one operation. A change that changes
    nothing writes nothing.
    """
    check_reason(reason)
    document = load_document(store)
    if document.revision != expected_revision:
        raise ConflictError(
            "the configuration was changed by someone else since you loaded it; "
            "reload to see their change",
            current_revision=document.revision,
        )
    if isinstance(budgets, str | bytes | Mapping) or not isinstance(budgets, Sequence):
        raise ConfigError([FieldProblem(BUDGETS, "budgets must be a list of budget objects")])
    BudgetSettings.load_list(budgets)
    before = document.body.get(BUDGETS)
    after = [dict(budget) for budget in budgets]
    if before == after:
        return document
    written = store.write_document(
        DocumentName.AI_CONFIG,
        {**document.body, BUDGETS: after},
        expected_revision=expected_revision,
        audit=AuditEvent(
            actor=actor,
            action=ACTION_UPDATE_BUDGETS,
            target=BUDGETS,
            before=before,
            after=after,
            reason=reason,
        ),
    )
    return AIConfigDocument(written.body, written.revision)
