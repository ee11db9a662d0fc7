"""Saving the document's ``routing`` object: validated, optimistic, audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt.config import AIConfigDocument, save_document_section
from llmopt.errors import ConfigError, FieldProblem
from llmopt.store import Store

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

    def check(document: AIConfigDocument) -> None:
        if not isinstance(routing, Mapping):
            raise ConfigError([FieldProblem(ROUTING, "routing must be an object")])
        RoutingSettings.from_dict(routing, entry_keys=[entry.key for entry in document.entries])

    return save_document_section(
        store,
        ROUTING,
        dict(routing) if isinstance(routing, Mapping) else routing,
        check=check,
        action=ACTION_UPDATE_ROUTING,
        expected_revision=expected_revision,
        actor=actor,
        reason=reason,
    )
