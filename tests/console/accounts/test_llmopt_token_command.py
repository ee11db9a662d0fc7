"""``manage.py llmopt_token``: create (the token printed once), list, revoke; all audited."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from console.audit.actions import TOKEN_CREATE, TOKEN_REVOKE
from console.models import ApiToken
from llmopt.store import Store

from ..conftest import user_in

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("llmopt_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_a_working_token_once_and_list_never_shows_it(
    django_user_model: Any, store: Store
) -> None:
    user_in(django_user_model, "viewer")
    out, err = run("create", "--user", "viewer", "--name", "grafana", "--expires-days", "30")
    secret = out.strip()
    assert secret.startswith("llmopt_") and "shown only now" in err
    response = Client().get("/api/config", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200

    listing, _ = run("list")
    assert "viewer\tgrafana\t" in listing and "active" in listing
    assert secret not in listing and secret[:15] in listing
    [record] = store.list_audit(action=TOKEN_CREATE)
    assert record.actor.startswith("cli:") and record.target == "token viewer/grafana"


def test_revoke_stops_the_token_and_is_audited(django_user_model: Any, store: Store) -> None:
    user_in(django_user_model, "operator")
    secret = run("create", "--user", "operator", "--name", "pager")[0].strip()
    out, _ = run("revoke", "--user", "operator", "--name", "pager", "--reason", "leaked")
    assert "revoked operator (token pager)" in out
    response = Client().get("/api/config", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    [record] = store.list_audit(action=TOKEN_REVOKE)
    assert record.actor.startswith("cli:") and record.reason == "leaked"
    assert "revoked" in run("list", "--user", "operator")[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--user", "nobody", "--name", "x"), "there is no user 'nobody'"),
        (("create", "--user", "viewer", "--name", "x", "--expires-days", "0"), "at least one"),
        (("revoke", "--user", "viewer", "--name", "missing"), "no live token named 'missing'"),
    ],
)
def test_bad_requests_fail_clearly_and_change_nothing(
    django_user_model: Any, store: Store, args: tuple[str, ...], message: str
) -> None:
    user_in(django_user_model, "viewer")
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not ApiToken.objects.exists()
    assert not store.list_audit(action=TOKEN_CREATE)
