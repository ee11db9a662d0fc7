"""Change an entry's optimization flags in the store: validated, optimistic, audited."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llmopt._secrets import redact
from llmopt.errors import ConfigError, ConflictError, FieldProblem
from llmopt.store import AuditEvent, DocumentName, Store

from ._document import AIConfigDocument, LLMEntry
from ._free_text import check_reason
from ._nested import BLOCK, copy_block, write_flags
from ._places import CONFIGURATION
from ._schema import FLAG_NAMES, OptimizationConfig

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
    flags can be changed here, never the model or its credentials. Each flag is written
    where the entry keeps it (flat, or the nested ``optimization`` block inside or
    beside its configuration, under that block's key), so no two places disagree
    after it. A change that changes nothing writes nothing. Otherwise the write and
    its audit record (with the entry before and after, secrets masked) are one operation.
    A ``reason`` the free-text rule refuses (:func:`check_reason`) is a problem too.
    """
    problems = [
        FieldProblem(name, f"{name} is not an optimization flag and cannot be changed here")
        for name in sorted(str(name) for name in changes if name not in FLAG_NAMES)
    ]
    try:
        check_reason(reason)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    document = _current(store, expected_revision)
    entry = document.entry(key)
    if not changes:
        return document  # asking for nothing must not fill in defaults (that is migrate's job)
    if entry.configuration is None:
        raise ConfigError(entry.problems)
    before = entry.as_item()
    after = entry_with_flags(before, changes, entry=entry)
    if after == before:
        return document

    shown = _audited if entry.optimization is None else redact
    body = document.body_with_entry_fields(key, after)
    written = store.write_document(
        DocumentName.AI_CONFIG,
        body,
        expected_revision=expected_revision,
        audit=AuditEvent(
            actor=actor,
            action=ACTION_UPDATE,
            target=f"llm:{key}",
            before=shown(before),
            after=shown(after),
            reason=reason,
        ),
    )
    return AIConfigDocument(written.body, written.revision)


def save_document_section(
    store: Store,
    name: str,
    value: Any,
    *,
    check: Callable[[AIConfigDocument], object],
    action: str,
    expected_revision: str,
    actor: str,
    reason: str = "",
    audited: Callable[[Any], Any] = redact,
) -> AIConfigDocument:
    """Replace the document's top-level ``name`` (``routing``, ``budgets`` ...) with
    ``value`` and save, validated, optimistically and audited.

    ``check(document)`` validates ``value`` against the current document and raises
    :class:`~llmopt.errors.ConfigError`; then nothing is written. A document changed
    since ``expected_revision`` raises :class:`~llmopt.errors.ConflictError`. The rest
    of the document is kept; the write and its audit record (``action``, target
    ``name``, before and after, each as ``audited`` shows it: secret-named fields
    masked unless told otherwise) are one operation. A change that changes nothing
    writes nothing.
    """
    check_reason(reason)
    document = _current(store, expected_revision)
    check(document)
    before = document.body.get(name)
    if before == value:
        return document
    written = store.write_document(
        DocumentName.AI_CONFIG,
        {**document.body, name: value},
        expected_revision=expected_revision,
        audit=AuditEvent(
            actor=actor,
            action=action,
            target=name,
            before=audited(before),
            after=audited(value),
            reason=reason,
        ),
    )
    return AIConfigDocument(written.body, written.revision)


def save_entry_field(
    store: Store,
    key: str,
    name: str,
    value: Any,
    *,
    check: Callable[[AIConfigDocument, LLMEntry], object],
    action: str,
    target: str,
    expected_revision: str,
    actor: str,
    reason: str = "",
) -> AIConfigDocument:
    """Set entry ``key``'s ``configuration.<name>`` to ``value`` (``None`` removes it) and
    save, validated, optimistically and audited.

    ``check(document, entry)`` validates ``value`` and raises
    :class:`~llmopt.errors.ConfigError`; then nothing is written. A document changed
    since ``expected_revision`` raises :class:`~llmopt.errors.ConflictError`, an unknown
    ``key`` :class:`~llmopt.errors.RecordNotFound`, an entry whose configuration cannot
    be read ``ConfigError`` with its problems. The rest of the entry and the document is
    kept; the write and its audit record (``action`` on ``target``, the field before and
    after) are one operation. A change that changes nothing writes nothing.
    """
    check_reason(reason)
    document = _current(store, expected_revision)
    entry = document.entry(key)
    if entry.configuration is None:
        raise ConfigError(list(entry.problems))
    check(document, entry)
    before = entry.configuration.get(name)
    if before == value:
        return document
    configuration = {k: v for k, v in entry.configuration.items() if k != name}
    if value is not None:
        configuration[name] = value
    written = store.write_document(
        DocumentName.AI_CONFIG,
        document.body_with_configuration(key, configuration),
        expected_revision=expected_revision,
        audit=AuditEvent(
            actor=actor, action=action, target=target, before=before, after=value, reason=reason
        ),
    )
    return AIConfigDocument(written.body, written.revision)


def _current(store: Store, expected_revision: str) -> AIConfigDocument:
    """The document, if it is still at ``expected_revision``; else ``ConflictError``."""
    document = load_document(store)
    if document.revision != expected_revision:
        raise ConflictError(
            "the configuration was changed by someone else since you loaded it; "
            "reload to see their change",
            current_revision=document.revision,
        )
    return document


def entry_with_flags(
    item: Mapping[str, Any], changes: Mapping[str, Any], *, entry: LLMEntry
) -> dict[str, Any]:
    """``item`` (an entry's ``configuration`` and ``optimization`` block) with ``changes``
    written where it keeps each flag; raises :class:`~llmopt.errors.ConfigError` when
    the result is not valid for the entry's provider and model."""
    places: dict[str, dict[str, Any]] = {CONFIGURATION: dict(item[CONFIGURATION])}
    inside = places[CONFIGURATION].get(BLOCK)
    if isinstance(inside, Mapping):
        places[f"{CONFIGURATION}.{BLOCK}"] = copy_block(inside)
    if isinstance(item.get(BLOCK), Mapping):
        places[BLOCK] = copy_block(item[BLOCK])
    current = entry.config.flags() if entry.config is not None else {}
    wanted = {**current, **changes}
    write_flags(places, changes, current, flat_flags=frozenset(FLAG_NAMES))
    result = _assemble(item, places)
    got = OptimizationConfig.from_dict(result, provider=entry.provider, model=entry.model)
    # A block's "cache.enabled" turns the master switch on by itself; an edit elsewhere
    # can take that away. Whatever still differs from what was asked is written out.
    missing = {k: v for k, v in wanted.items() if got.flags().get(k) != v}
    if missing:
        write_flags(places, missing, {}, flat_flags=frozenset(FLAG_NAMES))
        result = _assemble(item, places)
        OptimizationConfig.from_dict(result, provider=entry.provider, model=entry.model)
    return result


def _assemble(item: Mapping[str, Any], places: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    configuration = dict(places[CONFIGURATION])
    if f"{CONFIGURATION}.{BLOCK}" in places:
        configuration[BLOCK] = places[f"{CONFIGURATION}.{BLOCK}"]
    result: dict[str, Any] = {**item, CONFIGURATION: configuration}
    if BLOCK in places:
        result[BLOCK] = places[BLOCK]
    return result


def _audited(item: Mapping[str, Any]) -> Any:
    # An entry without a block beside its configuration is audited as before: the
    # configuration alone.
    return redact(item[CONFIGURATION])
