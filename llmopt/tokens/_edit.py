"""Saving the document's ``budgets`` list: validated, optimistic, audited, webhooks masked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmopt._secrets import MASK, redact
from llmopt.config import AIConfigDocument, load_document, save_document_section
from llmopt.errors import ConfigError, FieldProblem
from llmopt.store import Store

from ._budget_settings import BudgetSettings
from ._webhook import masked_webhook

BUDGETS = "budgets"
WEBHOOK = "webhook"
ACTION_UPDATE_BUDGETS = "budgets.update"


def masked_budgets(budgets: Any) -> Any:
    """A copy of a ``budgets`` list as it may be shown: each budget's ``webhook`` as
    :func:`masked_webhook` shows it. Anything that is not a list of objects is returned
    as it is. Pass the result back to :func:`update_budgets` unchanged and the stored
    webhooks are kept."""
    if not isinstance(budgets, list):
        return budgets
    return [
        {**item, WEBHOOK: masked_webhook(url)} if (url := _webhook_of(item)) else item
        for item in budgets
    ]


def _audited(budgets: Any) -> Any:
    return redact(masked_budgets(budgets))


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
    and its audit record (before and after, webhooks masked) are one operation. A
    change that changes nothing writes nothing.

    A ``webhook`` holding the mask (as :func:`masked_budgets` shows it) keeps the stored
    webhook it masks: the same-named budget's, else the one stored webhook that masks
    alike; one that masks no stored webhook (or several) is a ``ConfigError``, since
    the secret it hid is not known. A webhook without the mask replaces the stored one.
    """
    is_list = isinstance(budgets, Sequence) and not isinstance(budgets, str | bytes | Mapping)
    value: Any = list(budgets) if is_list else budgets
    unmasked: list[FieldProblem] = []
    document = load_document(store)
    if is_list and document.revision == expected_revision:
        # At another revision, saving raises the conflict: the stored webhooks of
        # a stale read must not fill in anything.
        value, unmasked = _with_stored_webhooks(value, document.body.get(BUDGETS))

    def check(_document: AIConfigDocument) -> None:
        if not is_list:
            raise ConfigError([FieldProblem(BUDGETS, "budgets must be a list of budget objects")])
        problems = list(unmasked)
        try:
            BudgetSettings.load_list(value)
        except ConfigError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)

    return save_document_section(
        store,
        BUDGETS,
        value,
        check=check,
        action=ACTION_UPDATE_BUDGETS,
        expected_revision=expected_revision,
        actor=actor,
        reason=reason,
        audited=_audited,
    )


def _with_stored_webhooks(budgets: list[Any], stored: Any) -> tuple[list[Any], list[FieldProblem]]:
    """``budgets`` with each masked webhook replaced by the stored one it masks, and a
    problem for each masked webhook that masks no single stored one."""
    stored_items = stored if isinstance(stored, list) else []
    stored_urls = {url for item in stored_items if (url := _webhook_of(item))}
    by_name = {
        item["name"]: url
        for item in stored_items
        if (url := _webhook_of(item)) and isinstance(item.get("name"), str)
    }
    restored: list[Any] = []
    problems: list[FieldProblem] = []
    for index, item in enumerate(budgets):
        shown = _webhook_of(item)
        if shown is None or MASK not in shown:
            restored.append(item)
            continue
        own = by_name.get(item["name"]) if isinstance(item.get("name"), str) else None
        if own is not None and masked_webhook(own) == shown:
            restored.append({**item, WEBHOOK: own})
            continue
        alike = sorted(url for url in stored_urls if masked_webhook(url) == shown)
        if len(alike) == 1:
            restored.append({**item, WEBHOOK: alike[0]})
            continue
        where = f"budgets[{index}].{WEBHOOK}"
        problems.append(
            FieldProblem(
                where,
                f"{where}: {shown} is masked and "
                + ("masks several stored webhooks" if alike else "masks no stored webhook")
                + ", so the URL it hides is unknown; enter the whole URL",
            )
        )
        restored.append(item)
    return restored, problems


def _webhook_of(item: object) -> str | None:
    """A budget's webhook, when it is an object with a non-empty text there."""
    url = item.get(WEBHOOK) if isinstance(item, Mapping) else None
    return url if isinstance(url, str) and url else None
