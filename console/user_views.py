"""The Users page: admins create users in a role, change roles and deactivate users."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from llmopt.errors import StoreError

from .access import requires
from .roles import MANAGE_USERS
from .users import ROLE_NAMES, UserChangeRefused, create_user, role_of, set_active, set_role

_ROLE_CHOICES = [(role, role) for role in ROLE_NAMES]


class NewUserForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{1,150}$",
        error_messages={"invalid": "Letters, digits and @ . + - _ only, at most 150."},
    )
    role = forms.ChoiceField(choices=_ROLE_CHOICES, initial="viewer")


@never_cache  # the response that carries a new user's password must not be kept anywhere
@requires(MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def users(request: HttpRequest) -> HttpResponse:
    """Every user with their role; POST ``action`` = create, role or active."""
    actor = request.user.get_username()
    form = NewUserForm()
    created: tuple[str, str] | None = None
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
                created = (user.get_username(), password)
                form = NewUserForm()
            elif action in ("role", "active"):
                user = get_object_or_404(get_user_model(), pk=request.POST.get("user"))
                if action == "role":
                    set_role(user, request.POST.get("role", ""), actor=actor)
                else:
                    set_active(user, request.POST.get("active") == "1", actor=actor)
                messages.success(request, f"Saved {user.get_username()}.")
                return redirect("users")
            else:
                raise UserChangeRefused("action must be create, role or active")
        except UserChangeRefused as exc:
            messages.error(request, str(exc))
            status = 422
        except StoreError as exc:
            messages.error(request, f"Nothing changed: the audit log could not be written ({exc}).")
            status = 503
    people = get_user_model().objects.order_by("username").prefetch_related("groups")
    rows = [(person, role_of(person)) for person in people]
    context = {"rows": rows, "form": form, "created": created, "roles": ROLE_NAMES}
    return render(request, "console/users.html", context, status=status)
