"""The sign-in page's guard: failed sign-ins are counted, logged and audited; too many in
a row lock the account, and the client address, out for a while.

django-axes counts the failures (``console.accounts.lockouts`` reads its ledger) and refuses a
locked-out account or address before any password is checked, even the right one. Here:

* ``LockoutBackend`` marks a request it refused, so the signal handlers below can tell
  a refusal (logged only: it neither counts nor floods the audit log) from a failure;
* ``on_sign_in_failed`` logs and audits each counted failure (``signin.fail``), naming
  the account tried and the client address, never the password;
* ``on_locked_out`` logs and audits the lockout it starts (``lockout.start``);
* ``lockout_response`` is the sign-in page saying so, with ``Retry-After`` (429).
"""

from __future__ import annotations

import logging
from typing import Any

# django-axes ships no type hints: its backend and exception are Any to mypy.
from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from llmopt.errors import StoreError
from llmopt.store import AuditEvent

from ..audit.actions import SIGNIN_FAIL
from ..store import get_store
from ..web.client_address import client_address
from .lockouts import record_lockout_start, sign_in_lockout, window

logger = logging.getLogger("console")

_REFUSED = "console_refused_locked_out"


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]  # django-axes: untyped
    """django-axes' guard, first in ``AUTHENTICATION_BACKENDS``: refuses a locked-out
    account or address (raising, which ends Django's ``authenticate``)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            # No client to count: shell code and the test client's login(). Every door a
            # visitor reaches (the sign-in page) passes its request.
            return None
        try:
            super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            setattr(request, _REFUSED, True)
            raise
        return None


def on_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Django's ``user_login_failed``: log the failure; audit it when it counted."""
    username = str(credentials.get("username", ""))  # Django masked the password already
    if request is None:
        logger.warning("failed sign-in for %r (no request: not counted)", username)
        return
    address = client_address(request) or "unknown"
    if getattr(request, _REFUSED, False):
        logger.warning("sign-in refused: %r from %s is locked out", username, address)
        return
    logger.warning("failed sign-in for %r from %s", username, address)
    try:
        get_store().record_audit(
            AuditEvent(
                actor=f"{address} (not signed in)",
                action=SIGNIN_FAIL,
                target=f"user {username}",
                after={"address": address},
            )
        )
    except StoreError:
        logger.exception("could not audit a failed sign-in for %r", username)


def on_locked_out(
    sender: Any,
    request: HttpRequest,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    """django-axes' ``user_locked_out``: record the lockout this failure started.

    django-axes sends it again for every try refused while locked out; those are not
    news. A failure that is counted is never refused, so whatever is locked out now
    was not before it.
    """
    if getattr(request, _REFUSED, False):
        return
    started = [
        lock
        for lock in (sign_in_lockout(username, None), sign_in_lockout(None, ip_address))
        if lock is not None
    ]
    record_lockout_start(started, why=f"{settings.LLMOPT_LOCKOUT_FAILURES} failed sign-ins")


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The sign-in page saying the account or address is locked out, and for how long."""
    username = str((credentials or {}).get("username") or request.POST.get("username", ""))
    lockout = sign_in_lockout(username, client_address(request))
    seconds = lockout.seconds_left() if lockout else int(window().total_seconds())
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next", ""),
        "lockout_minutes": -(-seconds // 60),
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
