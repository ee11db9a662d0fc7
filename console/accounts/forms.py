"""The forms of the Users and API tokens pages."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from llmopt.config import NAME_MAX_LENGTH

from ..web.forms import FreeTextField
from .users import ROLE_NAMES

_ROLE_CHOICES = [(role, role) for role in ROLE_NAMES]


class NewUserForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{1,150}$",
        error_messages={"invalid": "Letters, digits and @ . + - _ only, at most 150."},
    )
    role = forms.ChoiceField(choices=_ROLE_CHOICES, initial="viewer")


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
