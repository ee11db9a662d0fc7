"""The API tokens page: admins issue tokens (each shown once) and revoke them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from llmopt.config import NAME_MAX_LENGTH
from llmopt.errors import StoreError

from .models import ApiToken
from .roles import MANAGE_USERS
from .tokens import TokenError, issue_token, revoke_token
from .web.access import requires
from .web.forms import FreeTextField


class TokenForm(forms.Form):
    """Whom a new token acts as, what it is for, and how long it lives."""

    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        help_text="The token acts as this user, with this user's role.",
    )
    name = FreeTextField(
        called="Name", max_length=NAME_MAX_LENGTH, help_text="What will use it, e.g. ci-alerts."
    )
    expires_days = forms.IntegerField(
        required=False, min_value=1, label="Expires after (days)", help_text="Empty: never."
    )


@never_cache  # the one response that carries a new token must not be kept anywhere
@requires(MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
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
    return render(request, "console/tokens.html", _context(form, issued), status=status)


@requires(MANAGE_USERS)
@require_POST
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
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
