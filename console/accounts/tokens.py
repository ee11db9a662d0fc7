"""API tokens: issue one (shown once), recognise one on a request, revoke one; all audited.

A token is ``llmopt_`` followed by 32 random bytes (URL-safe base64). Only its SHA-256
is stored, beside a short prefix that tells tokens apart without revealing them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from llmopt.config import NAME_MAX_LENGTH, REASON_MAX_LENGTH, free_text_problem
from llmopt.store import AuditEvent

from ..audit.actions import TOKEN_CREATE, TOKEN_REVOKE
from ..models import ApiToken
from ..store import get_store

SCHEME = "llmopt_"
PREFIX_LENGTH = len(SCHEME) + 8
TOKEN_LENGTH = len(SCHEME) + 43  # token_urlsafe(32) is 43 characters

# ``last_used_at`` says whether a token is still in use, not how often: one write a
# minute at most, so a busy automation does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token cannot be issued or revoked as asked; the message says why."""


def issue_token(
    user: Any, name: str, *, actor: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user`` and return it with its secret, which is never stored.

    Raises ``TokenError`` for an empty name, a non-positive lifetime or a name the user
    already has a live token under; ``StoreError`` when the audit record cannot be
    written (then no token exists).
    """
    name = name.strip()
    if not name:
        raise TokenError("a token needs a name, e.g. the system that will use it")
    problem = free_text_problem(name, field="a token's name", max_length=NAME_MAX_LENGTH)
    if problem is not None:
        raise TokenError(problem)
    if expires_in_days is not None and expires_in_days < 1:
        raise TokenError("a token expires after at least one day")
    secret = SCHEME + secrets.token_urlsafe(32)
    now = timezone.now()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=user,
                name=name,
                prefix=secret[:PREFIX_LENGTH],
                secret_hash=_digest(secret),
                created_at=now,
                expires_at=expires_at,
            )
            # Inside the transaction: a token whose creation was not audited must not exist.
            _audit(token, TOKEN_CREATE, actor=actor, before=None, after=describe(token))
    except IntegrityError as exc:
        raise TokenError(f"{user.get_username()} already has a live token named {name!r}") from exc
    return token, secret


def revoke_token(token: ApiToken, *, actor: str, reason: str = "") -> ApiToken:
    """Revoke ``token`` for good (audited); revoking a revoked token changes nothing.

    Raises ``TokenError`` for a reason the free-text rule refuses (nothing is changed).
    """
    problem = free_text_problem(reason, field="the reason", max_length=REASON_MAX_LENGTH)
    if problem is not None:
        raise TokenError(problem)
    if token.revoked_at is not None:
        return token
    before = describe(token)
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit(
            token, TOKEN_REVOKE, actor=actor, before=before, after=describe(token), reason=reason
        )
    return token


def token_from_secret(secret: str, *, now: datetime | None = None) -> ApiToken | None:
    """The live token whose secret this is (its user loaded), or ``None``.

    ``None`` for an unknown, malformed, revoked or expired token, or one whose user is
    inactive. A match records ``last_used_at`` (to the minute, see
    ``LAST_USED_RESOLUTION``).
    """
    if len(secret) != TOKEN_LENGTH or not secret.startswith(SCHEME):
        return None
    now = now or timezone.now()
    digest = _digest(secret)
    candidates = ApiToken.objects.select_related("user").filter(
        prefix=secret[:PREFIX_LENGTH], revoked_at__isnull=True
    )
    for token in candidates:
        if not hmac.compare_digest(token.secret_hash, digest):
            continue
        if token.expires_at is not None and token.expires_at <= now:
            return None
        if not token.user.is_active:
            return None
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token
    return None


def describe(token: ApiToken) -> dict[str, Any]:
    """What the audit log keeps of a token: everything but its secret and hash."""
    return {
        "user": token.user.get_username(),
        "name": token.name,
        "prefix": token.prefix,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _audit(
    token: ApiToken, action: str, *, actor: str, before: Any, after: Any, reason: str = ""
) -> None:
    get_store().record_audit(
        AuditEvent(
            actor=actor,
            action=action,
            target=f"token {token.user.get_username()}/{token.name}",
            before=before,
            after=after,
            reason=reason,
        )
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
