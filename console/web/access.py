"""Access checks for views: anonymous users sign in, signed-in users without the role get 403.

Every page view is ``@requires(PERMISSION)`` and takes an :class:`AuthedRequest`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

View = Callable[..., HttpResponse]


class AuthedRequest(HttpRequest):
    """The request a signed-in view gets (behind ``requires`` or ``login_required``), and
    an API operation behind ``console.api.auth.RoleAuth`` (a token acts as its user): a
    signed-in ``user``, and ``htmx`` (django-htmx) saying whether htmx sent it."""

    user: User
    htmx: HtmxDetails


def requires(permission: str) -> Callable[[View], View]:
    """Let the view run only for users holding ``permission`` (see ``console.roles``)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not request.user.has_perm(permission):
                raise PermissionDenied(f"this needs the {permission.split('.')[-1]} permission")
            return view(request, *args, **kwargs)

        return checked

    return decorate
