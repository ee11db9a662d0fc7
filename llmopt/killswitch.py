"""The kill switch: one record that turns every optimization off at once.

Semantics follow django-waffle's switches: a named, audited record, and a missing or
unreadable record means the safe state, which here is *engaged* (all optimization off,
every call on the standard API). Engaging and releasing it never touches the entries'
own flags, so releasing brings back exactly the behaviour from before.

================ ============================================================
record state     what wrappers do
================ ============================================================
released         each entry's own flags apply
engaged          no optimization anywhere
missing          no optimization anywhere (``migrate`` creates it released
                 unless told to keep it off)
unreadable       no optimization anywhere, until it can be read again
================ ============================================================

Each process also has a twin of the switch in its environment, the migration guide's
Rollback Option 2: ``LLM_OPTIMIZATION_ENABLED=false`` (or ``0``, ``no``, ``off``) turns
every optimization off in that process, whatever the record says; unset, empty or
``true`` leaves the record and the flags in charge. A value that is neither reads as
off (the safe state) and says so. See :func:`env_switch`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llmopt.config import check_reason
from llmopt.errors import ConflictError, StoreError
from llmopt.store import AuditEvent, Document, DocumentName, Store
from llmopt.store._records import utcnow

logger = logging.getLogger("llmopt.killswitch")

ACTION_ENGAGE = "killswitch.engage"
ACTION_RELEASE = "killswitch.release"
TARGET = "kill_switch"
_WRITE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    """What the kill switch says now, and why.

    ``engaged`` is the only field a wrapper needs; the others tell a person who set it,
    when and why, and ``problem`` says when the state was inferred (record missing or
    unreadable) rather than read.
    """

    engaged: bool
    actor: str | None = None
    reason: str = ""
    changed_at: datetime | None = None
    revision: str | None = None
    problem: str | None = None


ENV_VAR = "LLM_OPTIMIZATION_ENABLED"
_ENV_ON = frozenset({"", "1", "true", "yes", "on"})
_ENV_OFF = frozenset({"0", "false", "no", "off"})


def env_switch(environ: Mapping[str, str] | None = None) -> str | None:
    """Why this process's environment turns optimization off, or ``None`` when it does not.

    Reads ``LLM_OPTIMIZATION_ENABLED`` (from ``environ``, default ``os.environ``) each
    time; wrappers call it on every call, so it costs a dictionary lookup.
    """
    raw = (os.environ if environ is None else environ).get(ENV_VAR)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _ENV_ON:
        return None
    if value in _ENV_OFF:
        return f"{ENV_VAR}={raw} in this process's environment: it optimizes nothing"
    return (
        f"{ENV_VAR}={raw!r} is not true or false, so this process optimizes nothing "
        "(the safe reading); set it to true or false, or unset it"
    )


def read_kill_switch(store: Store) -> KillSwitchState:
    """The kill switch's state; never raises: a missing or unreadable record reads as engaged."""
    try:
        document = store.read_document(DocumentName.KILL_SWITCH)
    except StoreError as exc:
        logger.warning("kill switch unreadable, treating it as engaged: %s", exc)
        return KillSwitchState(engaged=True, problem=f"the kill switch cannot be read: {exc}")
    if document is None:
        return KillSwitchState(
            engaged=True,
            problem="no kill switch record exists yet, so all optimization stays off "
            "until it is released",
        )
    return _state_from(document)


def engage_kill_switch(
    store: Store, *, actor: str, reason: str = "", clock: Callable[[], datetime] | None = None
) -> KillSwitchState:
    """Turn every optimization off (the emergency rollback): one audited write.

    Works whatever state the entries are in. Engaging an engaged switch writes nothing.
    Raises :class:`~llmopt.errors.StoreError` when the store cannot be written, and
    :class:`~llmopt.errors.ConfigError` (nothing written) for a ``reason`` the
    free-text rule refuses (:func:`~llmopt.config.check_reason`).
    """
    return _set(store, engaged=True, actor=actor, reason=reason, clock=clock)


def release_kill_switch(
    store: Store, *, actor: str, reason: str = "", clock: Callable[[], datetime] | None = None
) -> KillSwitchState:
    """Let the entries' own flags apply again (restore): one audited write.

    Releasing a released switch writes nothing. Raises
    :class:`~llmopt.errors.StoreError` when the store cannot be written, and
    :class:`~llmopt.errors.ConfigError` for a refused ``reason``, as :func:`engage_kill_switch`.
    """
    return _set(store, engaged=False, actor=actor, reason=reason, clock=clock)


def create_kill_switch(
    store: Store, *, actor: str, reason: str = "", clock: Callable[[], datetime] | None = None
) -> KillSwitchState | None:
    """Create the kill switch record, released, where none exists: one audited write.

    A store without the record reads as engaged (nothing optimized); the migration
    calls this so that a new store's flags mean what they say. An existing record,
    engaged or not, is never touched, even one created a moment before by someone
    else: then ``None`` is returned. Raises :class:`~llmopt.errors.StoreError` when
    the store cannot be written, :class:`~llmopt.errors.ConfigError` for a refused ``reason``.
    """
    check_reason(reason)
    if store.read_document(DocumentName.KILL_SWITCH) is not None:
        return None
    body = {
        "engaged": False,
        "actor": actor,
        "reason": reason,
        "changedAt": (clock or utcnow)().isoformat(),
    }
    try:
        written = store.write_document(
            DocumentName.KILL_SWITCH,
            body,
            expected_revision=None,
            audit=AuditEvent(
                actor=actor, action=ACTION_RELEASE, target=TARGET, after=body, reason=reason
            ),
        )
    except ConflictError:
        return None
    logger.info("kill switch record created, released, by %s", actor)
    return _state_from(written)


def _set(
    store: Store,
    *,
    engaged: bool,
    actor: str,
    reason: str,
    clock: Callable[[], datetime] | None,
) -> KillSwitchState:
    check_reason(reason)
    now = (clock or utcnow)()
    # Another operator may press the button at the same moment: re-read and retry,
    # since both want the same end state and the switch holds nothing to merge.
    for _ in range(_WRITE_ATTEMPTS):
        document = store.read_document(DocumentName.KILL_SWITCH)
        current = _state_from(document) if document is not None else None
        if current is not None and current.problem is None and current.engaged == engaged:
            return current
        body = {
            "engaged": engaged,
            "actor": actor,
            "reason": reason,
            "changedAt": now.isoformat(),
        }
        try:
            written = store.write_document(
                DocumentName.KILL_SWITCH,
                body,
                expected_revision=document.revision if document is not None else None,
                audit=AuditEvent(
                    actor=actor,
                    action=ACTION_ENGAGE if engaged else ACTION_RELEASE,
                    target=TARGET,
                    before=document.body if document is not None else None,
                    after=body,
                    reason=reason,
                ),
            )
        except ConflictError:
            continue
        logger.warning(
            "kill switch %s by %s%s",
            "ENGAGED" if engaged else "released",
            actor,
            f": {reason}" if reason else "",
        )
        return _state_from(written)
    raise ConflictError("the kill switch kept changing under this write; try again")


def _state_from(document: Document) -> KillSwitchState:
    body: dict[str, Any] = document.body
    engaged = body.get("engaged")
    if not isinstance(engaged, bool):
        return KillSwitchState(
            engaged=True,
            revision=document.revision,
            problem="the kill switch record is malformed, so it is treated as engaged",
        )
    actor = body.get("actor")
    reason = body.get("reason")
    return KillSwitchState(
        engaged=engaged,
        actor=actor if isinstance(actor, str) else None,
        reason=reason if isinstance(reason, str) else "",
        changed_at=_parse_time(body.get("changedAt")),
        revision=document.revision,
    )


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
