"""Who may call the API: the browser's Django session or an API token, bound to the roles.

``RoleAuth(permission)`` is what every router and endpoint declares; it accepts either
credential, and the caller then needs ``permission`` (see ``console.roles``):

=====================================  ======================================
credential                             check
=====================================  ======================================
``Authorization: Bearer llmopt_...``   the token (``console.accounts.tokens``); no CSRF, no cookie
session cookie                         Django's session; CSRF checked on unsafe methods
=====================================  ======================================

No credential, or a bearer token that is unknown, revoked or expired: 401. A caller
without the permission: 403. A client address whose tokens were refused
``LLMOPT_LOCKOUT_FAILURES`` times within ``LLMOPT_LOCKOUT_MINUTES``: 429 with
``Retry-After``, for any token, until that long after the last (``console.accounts.lockouts``;
logged, never with the token).

The API's docs and schema (``docs_access``) follow the same rules, for signed-in users
and tokens of any role, unless ``LLMOPT_PUBLIC_API_DOCS`` opens them to everyone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import SessionAuth
from ninja.security.http import HttpBearer

from ..accounts.lockouts import count_refused_token, token_lockout
from ..accounts.tokens import token_from_secret
from ..models import ApiToken
from ..roles import VIEW
from ..web.access import AuthedRequest
from ..web.client_address import client_address

if TYPE_CHECKING:
    from ninja import NinjaAPI

REFUSED = "the API token is unknown, revoked or expired"

# The token a call authenticated with, kept on its request for ``actor`` (session calls
# have none).
_API_TOKEN = "api_token"


class TooManyRefusedTokens(Exception):
    """This client address sent too many refused tokens; it may try again later."""

    def __init__(self, retry_after: int) -> None:
        minutes = -(-retry_after // 60)
        super().__init__(
            f"too many refused API tokens from this address; try again in {minutes} "
            "minutes, or ask an admin to unlock it"
        )
        self.retry_after = retry_after


def throttled(exc: TooManyRefusedTokens) -> JsonResponse:
    """429 in the envelope, with ``Retry-After`` in seconds."""
    response = JsonResponse({"detail": str(exc)}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def register_auth_handlers(api: NinjaAPI) -> None:
    """Answer ``TooManyRefusedTokens`` from any operation with ``throttled``."""

    @api.exception_handler(TooManyRefusedTokens)
    def too_many_refused(request: HttpRequest, exc: TooManyRefusedTokens) -> HttpResponse:
        return throttled(exc)


def token_caller(request: HttpRequest) -> ApiToken | None:
    """The live token a bearer request carries, ``None`` without a bearer header.

    Raises ``TooManyRefusedTokens`` for a throttled address (before the token is even
    looked at) and ``AuthenticationError`` for a refused token, which counts against the
    address.
    """
    # Not HttpBearer.__call__: under DEBUG it logs a non-bearer header verbatim.
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    address = client_address(request)
    lockout = token_lockout(address)
    if lockout is not None:
        raise TooManyRefusedTokens(lockout.seconds_left())
    found = token_from_secret(secret.strip())
    if found is None:
        count_refused_token(address)
        raise AuthenticationError(message=REFUSED)
    return found


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
        found = token_caller(request)
        if found is None:
            return None  # no token: let the session decide
        return self._act_as(request, found)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        raise NotImplementedError("ApiTokenAuth reads the header itself: see __call__")

    def _act_as(self, request: HttpRequest, found: ApiToken) -> Any:
        request.user = found.user
        setattr(request, _API_TOKEN, found)
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


def actor(request: AuthedRequest) -> str:
    """The name audit records give the caller: ``alice``, or ``alice (token ci-alerts)``."""
    token: ApiToken | None = getattr(request, _API_TOKEN, None)
    if token is not None:
        return str(token)
    return request.user.get_username()


View = Callable[..., HttpResponse]


def docs_access(view: View) -> View:
    """``NinjaAPI(docs_decorator=...)``: the docs and schema for callers with the view
    role (a session, or a token), unless ``LLMOPT_PUBLIC_API_DOCS`` is true.

    Anonymous visitors are sent to sign in, like every page; a refused or throttled
    token gets the API's 401 or 429.
    """

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if settings.LLMOPT_PUBLIC_API_DOCS:
            return view(request, *args, **kwargs)
        try:
            token = token_caller(request)
        except TooManyRefusedTokens as exc:
            return throttled(exc)
        except AuthenticationError as exc:
            return JsonResponse({"detail": exc.message}, status=401)
        user = token.user if token is not None else request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user.has_perm(VIEW):
            detail = f"this needs the {VIEW.split('.')[-1]} permission"
            return JsonResponse({"detail": detail}, status=403)
        return view(request, *args, **kwargs)

    return checked
