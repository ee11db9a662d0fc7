"""Managing console users: create one in a role, change a role, deactivate, reset or
change a password; all audited (a password itself never reaches the audit log).

Each change and its audit record happen together: the Django change runs in a database
transaction that is rolled back when the audit record cannot be written. An admin
cannot demote or deactivate themselves, so a console never loses its last way in by
accident (use ``manage.py createsuperuser`` on the server to get one back).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction

from llmopt.store import AuditEvent

from ..audit.actions import (
    USER_ACTIVATE,
    USER_CREATE,
    USER_DEACTIVATE,
    USER_PASSWORD_CHANGE,
    USER_PASSWORD_RESET,
    USER_ROLE,
)
from ..roles import ROLES
from ..store import get_store

ROLE_NAMES = tuple(ROLES)


class UserChangeRefused(ValueError):
    """The change was not made and nothing was written; the message says why."""


def role_of(user: AbstractUser) -> str | None:
    """The user's console role (the highest of their role groups), or ``None``."""
    names = {group.name for group in user.groups.all()}
    held = [role for role in ROLE_NAMES if role in names]
    return held[-1] if held else None


def create_user(username: str, role: str, *, actor: str) -> tuple[AbstractUser, str]:
    """A new active user in ``role`` with a random password, returned once to hand over."""
    _check_role(role)
    model = get_user_model()
    if model.objects.filter(username=username).exists():
        raise UserChangeRefused(f"a user called {username!r} already exists")
    password = _new_password()
    with transaction.atomic():
        user = model.objects.create_user(username=username, password=password)
        user.groups.add(Group.objects.get(name=role))
        _audit(USER_CREATE, user, actor=actor, before=None, after={"role": role})
    return user, password


def set_role(user: AbstractUser, role: str, *, actor: str) -> None:
    """Put ``user`` in exactly ``role`` (no-op when already there)."""
    _check_role(role)
    before = role_of(user)
    if before == role:
        return
    if user.get_username() == actor:
        raise UserChangeRefused("you cannot change your own role; ask another admin")
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name__in=ROLE_NAMES))
        user.groups.add(Group.objects.get(name=role))
        _audit(USER_ROLE, user, actor=actor, before={"role": before}, after={"role": role})


def set_active(user: AbstractUser, active: bool, *, actor: str) -> None:
    """Let ``user`` sign in (and use their API tokens) again, or stop them (no-op if so)."""
    if user.is_active == active:
        return
    if user.get_username() == actor:
        raise UserChangeRefused("you cannot deactivate yourself; ask another admin")
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        _audit(
            USER_ACTIVATE if active else USER_DEACTIVATE,
            user,
            actor=actor,
            before={"active": not active},
            after={"active": active},
        )


def reset_password(user: AbstractUser, *, actor: str) -> str:
    """Give ``user`` a new random password, returned once to hand over; their sessions
    end (Django checks a session against the password it was opened with)."""
    if user.get_username() == actor:
        raise UserChangeRefused("change your own password on the Password page")
    password = _new_password()
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit(USER_PASSWORD_RESET, user, actor=actor, before=None, after=None)
    return password


def change_own_password(user: AbstractUser, password: str) -> None:
    """Set the signed-in ``user``'s new ``password`` (already validated by the form)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit(USER_PASSWORD_CHANGE, user, actor=user.get_username(), before=None, after=None)


def _new_password() -> str:
    return secrets.token_urlsafe(12)


def _check_role(role: str) -> None:
    if role not in ROLE_NAMES:
        raise UserChangeRefused(f"role must be one of {', '.join(ROLE_NAMES)}, not {role!r}")


def _audit(action: str, user: AbstractUser, *, actor: str, before: Any, after: Any) -> None:
    get_store().record_audit(
        AuditEvent(
            actor=actor,
            action=action,
            target=f"user {user.get_username()}",
            before=before,
            after=after,
        )
    )
