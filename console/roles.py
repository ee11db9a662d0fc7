"""The three roles, as Django groups: viewer, operator, admin.

===========  =========================================================
role         may
===========  =========================================================
viewer       read everything
operator     also edit flags, cancel batches, roll back and restore
admin        also manage users
===========  =========================================================
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

VIEW = "console.view_console"
EDIT = "console.edit_flags"
OPERATE = "console.operate"
MANAGE_USERS = "console.manage_users"

ROLES: dict[str, tuple[str, ...]] = {
    "viewer": ("view_console",),
    "operator": ("view_console", "edit_flags", "operate"),
    "admin": ("view_console", "edit_flags", "operate", "manage_users"),
}


def ensure_roles(**_: Any) -> None:
    """Create the role groups with their permissions (idempotent; runs after migrate)."""
    for name, codenames in ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        permissions = Permission.objects.filter(
            content_type__app_label="console", codename__in=codenames
        )
        group.permissions.set(permissions)
