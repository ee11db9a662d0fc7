"""Saving the document's ``budgets`` list: validated, optimistic, audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmopt.config import AIConfigDocument, save_document_section
from llmopt.errors import ConfigError, FieldProblem
from llmopt.store import Store

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
    is_list = isinstance(budgets, Sequence) and not isinstance(budgets, str | bytes | Mapping)

    def check(_document: AIConfigDocument) -> None:
        if not is_list:
            raise ConfigError([FieldProblem(BUDGETS, "budgets must be a list of budget objects")])
        BudgetSettings.load_list(budgets)

    return save_document_section(
        store,
        BUDGETS,
        list(budgets) if is_list else budgets,
        check=check,
        action=ACTION_UPDATE_BUDGETS,
        expected_revision=expected_revision,
        actor=actor,
        reason=reason,
    )
