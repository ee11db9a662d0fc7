"""Access checks for views: anonymous users sign in, signed-in users without the role get 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


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
