"""Add the optimization flags to every ``llm`` entry of ``aiconfigs``, and take them out again.

For backends without Django; ``manage.py llmopt_migrate`` is the same functions.

- :func:`migrate` adds each missing flag with its safe default, so behaviour does not
  change. It never changes a field that exists, writes a JSON backup of the document
  first, is idempotent, and records what it added in the store. An entry that keeps its
  flags in the migration guide's nested ``optimization`` block is left as it is: flat
  copies beside the block would be a second place to edit, and the two would drift.
  Where the store has no kill switch record (which reads as "engaged": nothing
  optimized), it creates one, released, so that the flags mean what they say; with
  ``keep_off=True`` it leaves it missing.
- :func:`reverse_migration` removes exactly what was added; a flag changed since the
  migration is someone's decision and is kept, and the report says so.

Both take ``dry_run=True`` to report the change without writing anything, and both
are audited.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from llmopt._secrets import redact
from llmopt.config import AIConfigDocument, OptimizationConfig, load_document
from llmopt.config._nested import BLOCK
from llmopt.errors import ConflictError, MigrationError
from llmopt.killswitch import create_kill_switch, read_kill_switch
from llmopt.store import AuditEvent, Document, DocumentName, Store
from llmopt.store._records import utcnow

ACTION_MIGRATE = "config.migrate"
ACTION_REVERSE = "config.migrate.reverse"
_ADDED = "added"


@dataclass(frozen=True, slots=True)
class EntryMigration:
    """What the migration does to one entry.

    ``fields`` are the flags added (forward) or removed (reverse); ``kept`` maps a flag
    the reverse left in place to the reason; ``skipped`` says why an entry was left alone.
    """

    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """The outcome of :func:`migrate` or :func:`reverse_migration`."""

    direction: Literal["forward", "reverse"]
    entries: tuple[EntryMigration, ...]
    dry_run: bool
    backup_path: Path | None = None
    revision: str | None = None
    kill_switch: str = ""
    """What the migration did about the kill switch record, as a sentence."""

    @property
    def changes(self) -> bool:
        """Whether the document is (or, in a dry run, would be) changed."""
        return any(entry.fields for entry in self.entries)

    def diff_lines(self) -> list[str]:
        """The change as ``+``/``-`` lines per entry, for a person to review."""
        sign = "+" if self.direction == "forward" else "-"
        lines: list[str] = []
        for entry in self.entries:
            lines.append(entry.key)
            if entry.skipped:
                lines.append(f"  skipped: {entry.skipped}")
            for name, value in entry.fields.items():
                lines.append(f"  {sign} {name}: {json.dumps(value)}")
            for name, why in entry.kept.items():
                lines.append(f"  = {name}: kept, {why}")
            if not (entry.skipped or entry.fields or entry.kept):
                lines.append("  (nothing to change)")
        return lines


def migrate(
    store: Store,
    *,
    actor: str,
    backup_dir: Path,
    dry_run: bool = False,
    reason: str = "",
    keep_off: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> MigrationReport:
    """Add the missing optimization flags to every entry; see the module docstring.

    Raises :class:`~llmopt.errors.MigrationError` when there is no document to migrate
    or it changed while migrating (nothing written), and
    :class:`~llmopt.errors.StoreError` when the store fails.
    """
    document = _load(store)
    defaults = OptimizationConfig().flags()
    plans: list[EntryMigration] = []
    for entry in document.entries:
        if entry.configuration is None:
            plans.append(EntryMigration(entry.key, skipped="it has no configuration object"))
            continue
        if entry.optimization is not None or BLOCK in entry.configuration:
            plans.append(EntryMigration(entry.key, skipped=_NESTED))
            continue
        missing = {
            name: default for name, default in defaults.items() if name not in entry.configuration
        }
        plans.append(EntryMigration(entry.key, fields=missing))
    report = MigrationReport("forward", tuple(plans), dry_run)
    if not dry_run and report.changes:
        record = store.read_document(DocumentName.MIGRATION)
        added = _record_added(record)
        for plan in plans:
            if plan.fields:
                added.setdefault(plan.key, {}).update(plan.fields)
        report = _write(
            store,
            document,
            report,
            added,
            record=record,
            actor=actor,
            reason=reason,
            backup_dir=backup_dir,
            clock=clock,
        )
    # After the document: a migration that failed must not have switched anything on.
    switch = _kill_switch(store, actor=actor, dry_run=dry_run, keep_off=keep_off, clock=clock)
    return replace(report, kill_switch=switch)


def reverse_migration(
    store: Store,
    *,
    actor: str,
    backup_dir: Path,
    dry_run: bool = False,
    reason: str = "",
    clock: Callable[[], datetime] | None = None,
) -> MigrationReport:
    """Remove exactly the flags :func:`migrate` added and nobody changed since.

    Raises as :func:`migrate` does.
    """
    document = _load(store)
    record = store.read_document(DocumentName.MIGRATION)
    added = _record_added(record)
    plans: list[EntryMigration] = []
    for key, fields in added.items():
        try:
            entry = document.entry(key)
        except LookupError:
            plans.append(EntryMigration(key, skipped="the entry no longer exists"))
            continue
        configuration = entry.configuration or {}
        removed: dict[str, Any] = {}
        kept: dict[str, str] = {}
        for name, value in fields.items():
            if name not in configuration:
                kept[name] = "already gone"
            elif _same(configuration[name], value):
                removed[name] = value
            else:
                kept[name] = f"changed since the migration (now {json.dumps(configuration[name])})"
        plans.append(EntryMigration(key, fields=removed, kept=kept))
    report = MigrationReport("reverse", tuple(plans), dry_run)
    if dry_run or not report.changes:
        return report
    return _write(
        store,
        document,
        report,
        {},
        record=record,
        actor=actor,
        reason=reason,
        backup_dir=backup_dir,
        clock=clock,
    )


def _load(store: Store) -> AIConfigDocument:
    document = load_document(store)
    if not document.exists:
        raise MigrationError("there is no aiconfigs document (ai_models_config) to migrate")
    if document.problems:
        raise MigrationError("; ".join(str(p) for p in document.problems))
    return document


def _apply(
    document: AIConfigDocument, changes: Mapping[str, dict[str, Any]], *, add: bool
) -> dict[str, Any]:
    entries = list(document.body["llm"])
    for key, fields in changes.items():
        entry = document.entry(key)
        configuration = dict(entry.configuration or {})
        if add:
            configuration.update(fields)
        else:
            for name in fields:
                configuration.pop(name, None)
        entries[entry.index] = {**entries[entry.index], "configuration": configuration}
    return {**document.body, "llm": entries}


def _write(
    store: Store,
    document: AIConfigDocument,
    report: MigrationReport,
    added: dict[str, dict[str, Any]],
    *,
    record: Document | None,
    actor: str,
    reason: str,
    backup_dir: Path,
    clock: Callable[[], datetime] | None,
) -> MigrationReport:
    assert document.revision is not None
    now = (clock or utcnow)()
    changed = {entry.key: entry.fields for entry in report.entries if entry.fields}
    forward = report.direction == "forward"
    body = _apply(document, changed, add=forward)
    backup = _backup(document, backup_dir, now)
    try:
        written = store.write_document(
            DocumentName.AI_CONFIG,
            body,
            expected_revision=document.revision,
            audit=AuditEvent(
                actor=actor,
                action=ACTION_MIGRATE if forward else ACTION_REVERSE,
                target="aiconfigs",
                before=None if forward else redact(changed),
                after=redact(changed) if forward else None,
                reason=reason or f"backup at {backup}",
            ),
        )
    except ConflictError as exc:
        raise MigrationError(
            "the configuration changed while migrating; nothing was written, run it again"
        ) from exc
    store.write_document(
        DocumentName.MIGRATION,
        {_ADDED: added, "updatedAt": now.isoformat(), "backup": str(backup)},
        expected_revision=record.revision if record else None,
        audit=AuditEvent(
            actor=actor,
            action=ACTION_MIGRATE if forward else ACTION_REVERSE,
            target="migration_record",
            reason="what the migration added, so that it can be reversed exactly",
        ),
    )
    return replace(report, dry_run=False, backup_path=backup, revision=written.revision)


_NESTED = (
    "its flags are in the migration guide's nested optimization block, which is read as "
    "it is (flat copies would be a second place to edit)"
)


def _kill_switch(
    store: Store,
    *,
    actor: str,
    dry_run: bool,
    keep_off: bool,
    clock: Callable[[], datetime] | None,
) -> str:
    existing = read_kill_switch(store)
    if existing.revision is not None:
        state = "engaged" if existing.engaged else "released"
        return f"the kill switch record exists ({state}); left as it is"
    if keep_off:
        return (
            "no kill switch record: left missing as asked, so all optimization stays off "
            "until someone releases it (llmopt_rollback --restore)"
        )
    if dry_run:
        return "no kill switch record: the migration would create it, released"
    created = create_kill_switch(
        store,
        actor=actor,
        reason="created by the migration, released, so that each entry's flags apply",
        clock=clock,
    )
    if created is None:
        return "the kill switch record was created by someone else meanwhile; left as it is"
    return "created the kill switch record, released: each entry's flags apply"


def _backup(document: AIConfigDocument, backup_dir: Path, now: datetime) -> Path:
    backup_dir.mkdir(parents=True, exist_ok=True)
    path = backup_dir / f"aiconfigs-{now:%Y%m%dT%H%M%S%fZ}-rev{document.revision}.json"
    # The backup must restore the document as it was, API keys included: owner-only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document.body, handle, indent=2, ensure_ascii=False)
    return path


def _record_added(record: Document | None) -> dict[str, dict[str, Any]]:
    raw = (record.body if record else {}).get(_ADDED, {})
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): dict(v) for k, v in raw.items() if isinstance(v, Mapping)}


def _same(current: object, added: object) -> bool:
    # `True == 1` in Python; a flag someone turned from false into 0 was changed.
    return type(current) is type(added) and current == added
