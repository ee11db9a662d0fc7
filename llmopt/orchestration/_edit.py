"""Saving an entry's ``configuration.orchestration``: validated, optimistic, audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt.config import AIConfigDocument, LLMEntry, load_document, save_entry_field
from llmopt.store import Store

from ._settings import ACTION_UPDATE_ORCHESTRATION, ORCHESTRATION, OrchestrationSettings


def update_orchestration(
    store: Store,
    key: str,
    settings: Mapping[str, Any],
    *,
    expected_revision: str,
    actor: str,
    reason: str = "",
) -> AIConfigDocument:
    """Replace entry ``key``'s ``orchestration`` object with ``settings`` and save.

    Checked by :meth:`OrchestrationSettings.from_dict` against the document's entries
    (every problem raises :class:`~llmopt.errors.ConfigError`, fields
    ``orchestration.<name>``, and nothing is written). What is stored is the checked
    object in its canonical shape, so ``{"strategy": "single"}`` removes the field. A
    document changed since ``expected_revision`` raises
    :class:`~llmopt.errors.ConflictError`; an unknown ``key``
    :class:`~llmopt.errors.RecordNotFound`. The write and its audit record (target
    ``orchestration:<key>``, the object before and after) are one operation; a change
    that changes nothing writes nothing.
    """
    keys = [entry.key for entry in load_document(store).entries]
    wanted = OrchestrationSettings.from_dict(settings, entry_keys=keys)

    def check(document: AIConfigDocument, _entry: LLMEntry) -> None:
        OrchestrationSettings.from_dict(settings, entry_keys=[e.key for e in document.entries])

    return save_entry_field(
        store,
        key,
        ORCHESTRATION,
        wanted.to_dict() if wanted.orchestrated else None,
        check=check,
        action=ACTION_UPDATE_ORCHESTRATION,
        target=f"{ORCHESTRATION}:{key}",
        expected_revision=expected_revision,
        actor=actor,
        reason=reason,
    )
