"""Who may call the API: the browser's Django session or an API token, bound to the roles.

``RoleAuth(permission)`` is what every router and endpoint declares; it accepts either
credential, and the caller then needs ``permission`` (see ``console.roles``):

=====================================  ======================================
credential                             check
=====================================  ======================================
``Authorization: Bearer llmopt_...``   the token (``console.tokens``); no CSRF, no cookie
session cookie                         Django's session; CSRF checked on unsafe methods
=====================================  ======================================

No credential, or a bearer token that is unknown, revoked or expired: 401. A caller
without the permission: 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import SessionAuth
from ninja.security.http import HttpBearer

from ..models import ApiToken
from ..tokens import token_from_secret


def _require(user: Any, permission: str) -> Any:
    if not user.has_perm(permission):
        raise AuthorizationError(message=f"this needs the {permission.split('.')[-1]} permission")
    return user


class ApiTokenAuth(HttpBearer):
    """A bearer token acting as its user; tried first so token calls never meet CSRF."""

    def __init__(self, permission: str) -> None:
        super().__init__()
        self.permission = permission

    def __call__(self, request: HttpRequest) -> Any:
        # Not HttpBearer.__call__: under DEBUG it logs a non-bearer header verbatim.
        scheme, _, secret = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme:
            return None  # no token: let the session decide
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = token_from_secret(token)
        if found is None:
            raise AuthenticationError(message="the API token is unknown, revoked or expired")
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return _require(found.user, self.permission)


class BrowserSessionAuth(SessionAuth):
    """The signed-in browser's session (CSRF checked on unsafe methods)."""

    def __init__(self, permission: str) -> None:
        super().__init__(csrf=True)
        self.permission = permission

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return None if user is None else _require(user, self.permission)


class RoleAuth(list[ApiTokenAuth | BrowserSessionAuth]):
    """Either credential, then ``permission``: pass as ``auth=`` to a router or an endpoint."""

    def __init__(self, permission: str) -> None:
        super().__init__([ApiTokenAuth(permission), BrowserSessionAuth(permission)])
        self.permission = permission


def actor(request: HttpRequest) -> str:
    """The name audit records give the caller: ``alice``, or ``alice (token ci-alerts)``."""
    token: ApiToken | None = getattr(request, "api_token", None)
    if token is not None:
        return str(token)
    return str(request.user.get_username())
