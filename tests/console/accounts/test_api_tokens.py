"""API tokens: a bearer token acts as its user, bound to that user's role, with no CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from console.accounts.tokens import (
    TokenError,
    issue_token,
    revoke_token,
    token_from_secret,
)
from console.audit.actions import TOKEN_CREATE, TOKEN_REVOKE
from console.models import ApiToken
from llmopt.killswitch import ACTION_ENGAGE, read_kill_switch, release_kill_switch
from llmopt.store import Store

from ..conftest import user_in

pytestmark = pytest.mark.django_db
URL = "/api/kill-switch"


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def engage(client: Client, secret: str) -> Any:
    return client.post(
        URL, {"engaged": True, "reason": "alert"}, content_type="application/json", **bearer(secret)
    )


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    user = user_in(django_user_model, "operator")
    user.username = "alice"
    user.save()
    return user


def test_an_operators_token_engages_the_kill_switch_without_csrf_and_the_audit_names_it(
    alice: Any, store: Store
) -> None:
    release_kill_switch(store, actor="setup")
    _token, secret = issue_token(alice, "ci-alerts", actor="admin")
    client = Client(enforce_csrf_checks=True)

    response = engage(client, secret)

    assert response.status_code == 200
    assert response.json()["actor"] == "alice (token ci-alerts)"
    assert read_kill_switch(store).engaged is True
    [record] = store.list_audit(action=ACTION_ENGAGE)
    assert record.actor == "alice (token ci-alerts)"
    assert ApiToken.objects.get(name="ci-alerts").last_used_at is not None


def test_a_viewers_token_may_read_but_not_engage(django_user_model: Any, store: Store) -> None:
    release_kill_switch(store, actor="setup")
    _token, secret = issue_token(user_in(django_user_model, "viewer"), "dash", actor="admin")
    client = Client()
    assert client.get(URL, **bearer(secret)).status_code == 200
    response = engage(client, secret)
    assert response.status_code == 403 and "operate" in response.json()["detail"]
    assert read_kill_switch(store).engaged is False


def spoiled(how: str, token: ApiToken, secret: str) -> str:
    """The secret to send after spoiling ``token`` in one way."""
    if how == "revoked":
        revoke_token(token, actor="admin")
    elif how == "expired":
        token.expires_at = timezone.now() - timedelta(seconds=1)
        token.save()
    elif how == "user deactivated":
        token.user.is_active = False
        token.user.save()
    elif how == "wrong secret, same prefix":
        return secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    elif how == "malformed":
        return "llmopt_nope"
    return secret


@pytest.mark.parametrize(
    "how", ["revoked", "expired", "user deactivated", "wrong secret, same prefix", "malformed"]
)
def test_an_unusable_token_gets_the_401_envelope_and_changes_nothing(
    alice: Any, store: Store, how: str
) -> None:
    release_kill_switch(store, actor="setup")
    token, secret = issue_token(alice, "ci-alerts", expires_in_days=30, actor="admin")
    response = engage(Client(), spoiled(how, token, secret))
    assert response.status_code == 401
    assert response.json() == {"detail": "the API token is unknown, revoked or expired"}
    assert read_kill_switch(store).engaged is False


def test_a_bad_token_is_refused_even_beside_a_valid_session(
    client: Client, alice: Any, store: Store
) -> None:
    client.force_login(alice)
    assert client.get(URL, **bearer("llmopt_" + "x" * 43)).status_code == 401


def test_only_a_hash_and_a_short_prefix_of_the_secret_are_stored(alice: Any, store: Store) -> None:
    token, secret = issue_token(alice, "ci-alerts", actor="admin")
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    stored = " ".join(str(value) for value in row.values())
    assert secret not in stored
    assert secret.startswith(row["prefix"]) and len(row["prefix"]) < len(secret) // 3
    assert len(row["secret_hash"]) == 64


def test_creating_and_revoking_a_token_is_audited_without_its_secret(
    alice: Any, store: Store
) -> None:
    token, secret = issue_token(alice, "ci-alerts", expires_in_days=7, actor="admin")
    revoke_token(token, actor="admin", reason="rotated")
    revoke_token(token, actor="admin")  # already revoked: nothing more
    [created] = store.list_audit(action=TOKEN_CREATE)
    [revoked] = store.list_audit(action=TOKEN_REVOKE)
    assert (created.actor, created.target) == ("admin", "token alice/ci-alerts")
    assert (revoked.actor, revoked.reason) == ("admin", "rotated")
    assert created.after["prefix"] == token.prefix
    assert secret not in repr(created) + repr(revoked)


@pytest.mark.parametrize(
    ("name", "days", "message"),
    [("  ", None, "needs a name"), ("ok", 0, "at least one day"), ("x" * 101, None, "at most")],
)
def test_a_bad_token_request_is_refused_and_nothing_is_made(
    alice: Any, store: Store, name: str, days: int | None, message: str
) -> None:
    with pytest.raises(TokenError, match=message):
        issue_token(alice, name, expires_in_days=days, actor="admin")
    assert not ApiToken.objects.exists() and not store.list_audit(action=TOKEN_CREATE)


def test_a_live_name_cannot_be_issued_twice_but_can_after_revoking(
    alice: Any, store: Store
) -> None:
    token, _ = issue_token(alice, "ci-alerts", actor="admin")
    with pytest.raises(TokenError, match="already has a live token named 'ci-alerts'"):
        issue_token(alice, "ci-alerts", actor="admin")
    assert len(store.list_audit(action=TOKEN_CREATE)) == 1
    revoke_token(token, actor="admin")
    issue_token(alice, "ci-alerts", actor="admin")
    assert ApiToken.objects.filter(name="ci-alerts").count() == 2


def test_the_openapi_schema_offers_both_credentials(signed_in: Client) -> None:
    schemes = signed_in.get("/api/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["ApiTokenAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["BrowserSessionAuth"]["in"] == "cookie"


def test_last_use_is_recorded_to_the_minute_not_written_on_every_call(alice: Any) -> None:
    _token, secret = issue_token(alice, "dash", actor="admin")
    first = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def last_used() -> datetime | None:
        return ApiToken.objects.get(name="dash").last_used_at

    assert token_from_secret(secret, now=first) is not None
    assert last_used() == first
    assert token_from_secret(secret, now=first + timedelta(seconds=59)) is not None
    assert last_used() == first
    later = first + timedelta(minutes=1)
    assert token_from_secret(secret, now=later) is not None
    assert last_used() == later
