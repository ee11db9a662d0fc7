"""The console's permissions; it keeps no data of its own in Django's database."""

from __future__ import annotations

from django.db import models


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
