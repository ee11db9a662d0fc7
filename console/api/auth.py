"""Who may call the API: the browser's Django session, bound to the console's roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import SessionAuth


class RoleAuth(SessionAuth):
    """Session auth (CSRF checked on unsafe methods) that also needs one permission.

    Anonymous callers get 401 (``AuthenticationError``); signed-in callers without
    ``permission`` (see ``console.roles``) get 403 (``AuthorizationError``).
    """

    def __init__(self, permission: str) -> None:
        super().__init__(csrf=True)
        self.permission = permission

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None:
            return None
        if not user.has_perm(self.permission):
            raise AuthorizationError(
                message=f"this needs the {self.permission.split('.')[-1]} permission"
            )
        return user


def actor(request: HttpRequest) -> str:
    """The name audit records give the signed-in caller."""
    return str(request.user.get_username())
