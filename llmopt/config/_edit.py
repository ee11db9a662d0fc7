"""Change an entry's optimization flags in the store: validated, optimistic, audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt._secrets import redact
from llmopt.errors import ConfigError, ConflictError, FieldProblem
from llmopt.store import AuditEvent, DocumentName, Store

from ._document import AIConfigDocument
from ._legacy import FLAT_FLAGS
from ._schema import OptimizationConfig

ACTION_UPDATE = "config.update"


def load_document(store: Store) -> AIConfigDocument:
    """The current ``aiconfigs`` document (empty, with revision ``None``, when there is none).

    Raises :class:`~llmopt.errors.StoreError` when the store cannot be read.
    """
    document = store.read_document(DocumentName.AI_CONFIG)
    if document is None:
        return AIConfigDocument(None, None)
    return AIConfigDocument(document.body, document.revision)


def update_entry_flags(
    store: Store,
    key: str,
    changes: Mapping[str, Any],
    *,
    expected_revision: str,
    actor: str,
    reason: str = "",
) -> AIConfigDocument:
    """Set some optimization flags (camelCase names) of entry ``key`` and save.

    ``expected_revision`` is the revision the caller showed its user; if the document
    changed since, nothing is written and :class:`~llmopt.errors.ConflictError` says so.
    Invalid values raise :class:`~llmopt.errors.ConfigError` with every problem; only
    flags can be changed here, never the model or its credentials. A change that
    changes nothing writes nothing. Otherwise the write and its audit record (with the
    entry before and after, secrets masked) are one operation.
    """
    unknown = sorted(str(name) for name in changes if name not in FLAT_FLAGS)
    if unknown:
        raise ConfigError(
            FieldProblem(name, f"{name} is not an optimization flag and cannot be changed here")
            for name in unknown
        )
    document = load_document(store)
    if document.revision != expected_revision:
        raise ConflictError(
            "the configuration was changed by someone else since you loaded it; "
            "reload to see their change",
            current_revision=document.revision,
        )
    entry = document.entry(key)
    if not changes:
        return document  # asking for nothing must not fill in defaults (that is migrate's job)
    before = dict(entry.configuration or {})
    updated = OptimizationConfig.from_dict(
        {**before, **changes}, provider=entry.provider, model=entry.model
    ).to_dict()
    if updated == before:
        return document

    body = document.body_with_configuration(key, updated)
    written = store.write_document(
        DocumentName.AI_CONFIG,
        body,
        expected_revision=expected_revision,
        audit=AuditEvent(
            actor=actor,
            action=ACTION_UPDATE,
            target=f"llm:{key}",
            before=redact(before),
            after=redact(updated),
            reason=reason,
        ),
    )
    return AIConfigDocument(written.body, written.revision)
