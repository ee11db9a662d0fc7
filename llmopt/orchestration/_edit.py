"""Saving an entry's ``configuration.orchestration``: validated, optimistic, audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt.config import AIConfigDocument, check_reason, load_document
from llmopt.errors import ConfigError, ConflictError
from llmopt.store import AuditEvent, DocumentName, Store

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
    check_reason(reason)
    document = load_document(store)
    if document.revision != expected_revision:
        raise ConflictError(
            "the configuration was changed by someone else since you loaded it; "
            "reload to see their change",
            current_revision=document.revision,
        )
    entry = document.entry(key)
    if entry.configuration is None:
        raise ConfigError(list(entry.problems))
    wanted = OrchestrationSettings.from_dict(settings, entry_keys=[e.key for e in document.entries])
    before = entry.configuration.get(ORCHESTRATION)
    after = wanted.to_dict() if wanted.orchestrated else None
    if before == after:
        return document
    configuration = {k: v for k, v in entry.configuration.items() if k != ORCHESTRATION}
    if after is not None:
        configuration[ORCHESTRATION] = after
    written = store.write_document(
        DocumentName.AI_CONFIG,
        document.body_with_configuration(key, configuration),
        expected_revision=expected_revision,
        audit=AuditEvent(
            actor=actor,
            action=ACTION_UPDATE_ORCHESTRATION,
            target=f"{ORCHESTRATION}:{key}",
            before=before,
            after=after,
            reason=reason,
        ),
    )
    return AIConfigDocument(written.body, written.revision)
