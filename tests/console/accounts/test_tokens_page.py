"""``/tokens/``: admins issue a token (shown once) and revoke it; nobody else gets in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from console.accounts.tokens import issue_token
from console.audit.actions import TOKEN_CREATE, TOKEN_REVOKE
from console.models import ApiToken
from llmopt.store import Store

from ..conftest import user_in

pytestmark = pytest.mark.django_db
URL = "/tokens/"


@pytest.fixture
def admin(client: Client, django_user_model: Any) -> Client:
    client.force_login(user_in(django_user_model, "admin"))
    return client


def test_an_admin_issues_a_token_that_is_shown_once_and_then_works(
    admin: Client, django_user_model: Any, store: Store
) -> None:
    operator = user_in(django_user_model, "operator")
    response = admin.post(URL, {"user": operator.pk, "name": "ci-alerts", "expires_days": "90"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [secret] = re.findall(r'class="token-secret">(llmopt_[\w-]+)<', response.content.decode())
    assert (
        Client().get("/api/kill-switch", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    )

    listing = admin.get(URL).content.decode()
    assert "ci-alerts" in listing and secret[:15] in listing and secret not in listing
    [record] = store.list_audit(action=TOKEN_CREATE)
    assert record.actor == "admin" and record.target == "token operator/ci-alerts"


def test_an_admin_revokes_a_token(admin: Client, django_user_model: Any, store: Store) -> None:
    token, secret = issue_token(user_in(django_user_model, "operator"), "pager", actor="setup")
    response = admin.post(f"/tokens/{token.pk}/revoke/", {"reason": "rotated"})
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked
    assert Client().get("/api/config", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    [record] = store.list_audit(action=TOKEN_REVOKE)
    assert (record.actor, record.reason) == ("admin", "rotated")
    assert "token-revoked" in admin.get(URL).content.decode()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"name": "x", "expires_days": "0"}, "greater than or equal to 1"),
        ({"name": ""}, "required"),
    ],
)
def test_a_bad_form_shows_the_error_and_issues_nothing(
    admin: Client, django_user_model: Any, store: Store, form: dict[str, str], error: str
) -> None:
    user = user_in(django_user_model, "viewer")
    response = admin.post(URL, {"user": user.pk, **form})
    assert response.status_code == 422 and error in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_duplicate_live_name_is_refused_on_the_form(
    admin: Client, django_user_model: Any, store: Store
) -> None:
    user = user_in(django_user_model, "viewer")
    issue_token(user, "dash", actor="setup")
    response = admin.post(URL, {"user": user.pk, "name": "dash"})
    assert response.status_code == 422 and "already has a live token" in response.content.decode()
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("role", ["viewer", "operator", None])
def test_only_admins_see_or_use_the_page(
    client: Client, django_user_model: Any, store: Store, role: str | None
) -> None:
    user = user_in(django_user_model, role)
    token, _ = issue_token(user, "mine", actor="setup")
    client.force_login(user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"user": user.pk, "name": "more"}).status_code == 403
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.get().revoked is False
    assert "/tokens/" not in client.get("/audit/").content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, store: Store) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "name", ["ci\u202ealerts", "ci\x00alerts", "x" * 101], ids=["bidi", "nul", "long"]
)
def test_a_token_name_the_free_text_rule_refuses_is_shown_beside_the_field_and_nothing_made(
    admin: Client, django_user_model: Any, name: str
) -> None:
    user = user_in(django_user_model, "operator")
    response = admin.post(URL, {"user": user.pk, "name": name})

    assert response.status_code == 422
    assert "Name must" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_revoke_reason_the_free_text_rule_refuses_revokes_nothing(
    admin: Client, django_user_model: Any
) -> None:
    token, _ = issue_token(user_in(django_user_model, "operator"), "ci", actor="test")

    response = admin.post(f"/tokens/{token.pk}/revoke/", {"reason": "oops\u202e"}, follow=True)

    token.refresh_from_db()
    assert token.revoked_at is None
    assert "was not revoked" in response.content.decode()
