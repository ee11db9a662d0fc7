"""The console's permissions, and the API tokens automation signs in with.

The llmopt data (configuration, audit log, batches) lives in the llmopt store, not here.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Console(models.Model):
    """Holds the console's permissions (no table: Django needs a model to hang them on)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_console", "View configuration, batches, statistics and the audit log"),
            ("edit_flags", "Edit optimization flags"),
            ("operate", "Cancel batches, roll back and restore"),
            ("manage_users", "Manage console users"),
        ]


class ApiToken(models.Model):
    """A secret an automated caller sends as ``Authorization: Bearer <token>``; it acts as ``user``.

    Only a SHA-256 of the token is kept, so a leaked database reveals no usable token;
    ``prefix`` (the token's first characters) tells tokens apart in lists and logs.
    Issue and revoke them through ``console.accounts.tokens``, which audits both.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__username", "name", "-created_at"]
        constraints = [
            # A name identifies one live token per user; revoked ones keep theirs as history.
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(revoked_at__isnull=True),
                name="one_live_token_per_user_and_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user.get_username()} (token {self.name})"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired``, as lists show it."""
        moment = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= moment:
            return "expired"
        return "active"


class RefusedTokens(models.Model):
    """A client address that sent API tokens the console refused (unknown, revoked, expired).

    ``console.accounts.lockouts`` counts them like failed sign-ins: enough within the lockout
    window and the address gets 429 until the window has passed since the last one.
    """

    address = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "refused tokens"

    def __str__(self) -> str:
        return f"{self.failures} refused API tokens from {self.address}"
