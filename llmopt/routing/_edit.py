"""Saving the document's ``routing`` object: validated, optimistic, audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt.config import AIConfigDocument, check_reason, load_document
from llmopt.errors import ConfigError, ConflictError, FieldProblem
from llmopt.store import AuditEvent, DocumentName, Store

from ._settings import ROUTING, RoutingSettings

ACTION_UPDATE_ROUTING = "routing.update"


def update_routing(
    store: Store,
    routing: Mapping[str, Any],
    *,
    expected_revision: str,
    actor: str,
    reason: str = "",
) -> AIConfigDocument:
    """Replace the document's ``routing`` object with ``routing`` and save.

    ``routing`` is validated against the document's entries first
    (:meth:`RoutingSettings.from_dict`); an invalid one raises
    :class:`~llmopt.errors.ConfigError` with every problem and writes nothing. A
    document changed since ``expected_revision`` raises
    :class:`~llmopt.errors.ConflictError`. Unknown fields elsewhere in the document
    are kept; the write and its audit record (before and after) are one operation. A
    change that changes nothing writes nothing.
    """
    check_reason(reason)
    document = load_document(store)
    if document.revision != expected_revision:
        raise ConflictError(
            "the configuration was changed by someone else since you loaded it; "
            "reload to see their change",
            current_revision=document.revision,
        )
    if not isinstance(routing, Mapping):
        raise ConfigError([FieldProblem(ROUTING, "routing must be an object")])
    RoutingSettings.from_dict(routing, entry_keys=[entry.key for entry in document.entries])
    before = document.body.get(ROUTING)
    after = dict(routing)
    if before == after:
        return document
    written = store.write_document(
        DocumentName.AI_CONFIG,
        {**document.body, ROUTING: after},
        expected_revision=expected_revision,
        audit=AuditEvent(
            actor=actor,
            action=ACTION_UPDATE_ROUTING,
            target=ROUTING,
            before=before,
            after=after,
            reason=reason,
        ),
    )
    return AIConfigDocument(written.body, written.revision)
