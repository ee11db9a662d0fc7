"""The account pages: Users (admins create users in a role, change roles, deactivate
users, reset passwords and lift lockouts), Password (everyone changes their own) and API
tokens (admins issue tokens, each shown once, and revoke them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from llmopt.errors import StoreError

from ..models import ApiToken
from ..roles import MANAGE_USERS
from ..web.access import AuthedRequest, requires
from .forms import NewUserForm, TokenForm
from .lockouts import NothingToUnlock, active_lockouts, lift
from .tokens import TokenError, issue_token, revoke_token
from .users import (
    ROLE_NAMES,
    UserChangeRefused,
    change_own_password,
    create_user,
    reset_password,
    role_of,
    set_active,
    set_role,
)


@never_cache  # the response that carries a new password must not be kept anywhere
@requires(MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def users(request: AuthedRequest) -> HttpResponse:
    """Every user with their role, and who is locked out; POST ``action`` = create, role,
    active, password or unlock (``kind`` account or address, ``value``)."""
    actor = request.user.get_username()
    form = NewUserForm()
    # (what happened, whose, the password to hand over): shown this once.
    handed_over: tuple[str, str, str] | None = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create":
                form = NewUserForm(request.POST)
                if not form.is_valid():
                    raise UserChangeRefused("check the new user's name and role")
                user, password = create_user(
                    form.cleaned_data["username"], form.cleaned_data["role"], actor=actor
                )
                handed_over = ("Created", user.get_username(), password)
                form = NewUserForm()
            elif action == "password":
                user = get_object_or_404(get_user_model(), pk=request.POST.get("user"))
                password = reset_password(user, actor=actor)
                handed_over = ("Reset the password of", user.get_username(), password)
            elif action == "unlock":
                kind, value = request.POST.get("kind", ""), request.POST.get("value", "")
                lift(kind, value, actor=actor)
                messages.success(request, f"Unlocked the {kind} {value}.")
                return redirect("users")
            elif action in ("role", "active"):
                user = get_object_or_404(get_user_model(), pk=request.POST.get("user"))
                if action == "role":
                    set_role(user, request.POST.get("role", ""), actor=actor)
                else:
                    set_active(user, request.POST.get("active") == "1", actor=actor)
                messages.success(request, f"Saved {user.get_username()}.")
                return redirect("users")
            else:
                raise UserChangeRefused("action must be create, role, active, password or unlock")
        except (UserChangeRefused, NothingToUnlock) as exc:
            messages.error(request, str(exc))
            status = 422
        except StoreError as exc:
            messages.error(request, f"Nothing changed: the audit log could not be written ({exc}).")
            status = 503
    people = get_user_model().objects.order_by("username").prefetch_related("groups")
    rows = [(person, role_of(person)) for person in people]
    context = {
        "rows": rows,
        "form": form,
        "handed_over": handed_over,
        "roles": ROLE_NAMES,
        "lockouts": active_lockouts(),
        "lockout_failures": settings.LLMOPT_LOCKOUT_FAILURES,
        "lockout_minutes": settings.LLMOPT_LOCKOUT_MINUTES,
    }
    return render(request, "console/accounts/users.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: AuthedRequest) -> HttpResponse:
    """Change your own password: the current one, then the new one twice."""
    assert request.user.is_authenticated
    form = PasswordChangeForm(request.user, request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                change_own_password(request.user, form.cleaned_data["new_password1"])
            except StoreError as exc:
                messages.error(
                    request, f"Nothing changed: the audit log could not be written ({exc})."
                )
                status = 503
            else:
                update_session_auth_hash(request, request.user)  # stay signed in here
                messages.success(request, "Your password is changed.")
                return redirect("password-change")
        else:
            status = 422
    return render(request, "console/accounts/password.html", {"form": form}, status=status)


@never_cache  # the one response that carries a new token must not be kept anywhere
@requires(MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def tokens(request: AuthedRequest) -> HttpResponse:
    """Every token (never its secret), a form to issue one, and revoke buttons."""
    issued: tuple[ApiToken, str] | None = None
    status = 200
    form = TokenForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                issued = issue_token(
                    form.cleaned_data["user"],
                    form.cleaned_data["name"],
                    actor=request.user.get_username(),
                    expires_in_days=form.cleaned_data["expires_days"],
                )
            except TokenError as exc:
                form.add_error("name", str(exc))
                status = 422
            except StoreError as exc:
                form.add_error(None, f"the audit log could not be written, no token made: {exc}")
                status = 503
            else:
                form = TokenForm()
        else:
            status = 422
    return render(request, "console/accounts/tokens.html", _context(form, issued), status=status)


@requires(MANAGE_USERS)
@require_POST
def revoke(request: AuthedRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id)
    try:
        revoke_token(
            token, actor=request.user.get_username(), reason=request.POST.get("reason", "")
        )
    except TokenError as exc:
        messages.error(request, f"{token} was not revoked: {exc}.")
    except StoreError as exc:
        messages.error(request, f"{token} was not revoked: the audit log failed ({exc}).")
    else:
        messages.warning(request, f"Revoked {token}; calls with it now get 401.")
    return redirect("tokens")


def _context(form: TokenForm, issued: tuple[ApiToken, str] | None) -> dict[str, Any]:
    return {
        "form": form,
        "issued": issued,
        "tokens": ApiToken.objects.select_related("user"),
    }
