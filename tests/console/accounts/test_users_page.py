"""Admins manage users on /users/: create in a role, change roles, deactivate; all audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from console.accounts.users import role_of
from llmopt.errors import StoreError
from llmopt.store import Store

from ..conftest import user_in


@pytest.fixture
def admin(client: Client, django_user_model: Any) -> Client:
    client.force_login(user_in(django_user_model, "admin"))
    return client


def audit(store: Store, action: str) -> list[tuple[str, str, Any, Any]]:
    return [(r.actor, r.target, r.before, r.after) for r in store.list_audit(action=action)]


def test_an_admin_creates_a_user_who_can_sign_in_with_the_password_shown_once(
    admin: Client, store: Store
) -> None:
    page = admin.post("/users/", {"action": "create", "username": "dana", "role": "operator"})
    assert page.status_code == 200
    password = page.context["handed_over"][2]
    assert password in page.content.decode()
    assert "no-cache" in page["Cache-Control"]
    dana = User.objects.get(username="dana")
    assert role_of(dana) == "operator" and dana.has_perm("console.operate")
    assert Client().login(username="dana", password=password)
    assert audit(store, "user.create") == [("admin", "user dana", None, {"role": "operator"})]
    assert password not in admin.get("/users/").content.decode()


def test_roles_change_and_users_are_deactivated_and_back(
    admin: Client, store: Store, django_user_model: Any
) -> None:
    viewer = user_in(django_user_model, "viewer")
    assert admin.post("/users/", {"action": "role", "user": viewer.pk, "role": "operator"})
    viewer = User.objects.get(pk=viewer.pk)
    assert role_of(viewer) == "operator" and viewer.has_perm("console.edit_flags")
    admin.post("/users/", {"action": "active", "user": viewer.pk, "active": "0"})
    assert not Client().login(username="viewer", password="pw-1")
    admin.post("/users/", {"action": "active", "user": viewer.pk, "active": "1"})
    assert Client().login(username="viewer", password="pw-1")
    assert audit(store, "user.role") == [
        ("admin", "user viewer", {"role": "viewer"}, {"role": "operator"})
    ]
    assert [a for a, *_ in audit(store, "user.deactivate") + audit(store, "user.activate")] == [
        "admin",
        "admin",
    ]


@pytest.mark.parametrize(
    "form",
    [
        {"action": "create", "username": "admin", "role": "viewer"},  # exists
        {"action": "create", "username": "bad name!", "role": "viewer"},
        {"action": "create", "username": "erin", "role": "superhero"},
        {"action": "role", "user": "SELF", "role": "viewer"},  # demoting oneself
        {"action": "active", "user": "SELF", "active": "0"},  # locking oneself out
        {"action": "delete", "user": "SELF"},
        {"action": "password", "user": "SELF"},  # one's own: the Password page
    ],
)
def test_bad_changes_are_refused_with_a_reason_and_change_nothing(
    admin: Client, store: Store, form: dict[str, str]
) -> None:
    me = User.objects.get(username="admin")
    form = {k: (str(me.pk) if v == "SELF" else v) for k, v in form.items()}

    def state() -> list[tuple[str, str | None, bool, str]]:
        return sorted((u.username, role_of(u), u.is_active, u.password) for u in User.objects.all())

    before = state()
    response = admin.post("/users/", form)
    assert response.status_code == 422
    assert [m.message for m in response.context["messages"]]
    assert state() == before
    assert [r for r in store.list_audit() if r.action.startswith("user.")] == []


@pytest.fixture
def audit_down(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store refuses every audit record from here on."""

    def broken(*_: Any, **__: Any) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(type(store), "record_audit", broken)


@pytest.mark.usefixtures("audit_down")
def test_when_the_audit_cannot_be_written_no_user_is_created(admin: Client) -> None:
    response = admin.post("/users/", {"action": "create", "username": "fay", "role": "viewer"})
    assert response.status_code == 503
    assert not User.objects.filter(username="fay").exists()


def test_an_admin_resets_a_password_shown_once_and_the_users_sessions_end(
    admin: Client, store: Store, django_user_model: Any
) -> None:
    viewer = user_in(django_user_model, "viewer")
    elsewhere = Client()
    assert elsewhere.login(username="viewer", password="pw-1")

    page = admin.post("/users/", {"action": "password", "user": viewer.pk})
    assert page.status_code == 200 and "no-cache" in page["Cache-Control"]
    verb, whose, password = page.context["handed_over"]
    assert (verb, whose) == ("Reset the password of", "viewer")
    assert password in page.content.decode()

    assert elsewhere.get("/").status_code == 302  # signed out: sent to sign in
    assert not Client().login(username="viewer", password="pw-1")
    assert Client().login(username="viewer", password=password)
    assert audit(store, "user.password_reset") == [("admin", "user viewer", None, None)]
    assert password not in str([r.model_dump() for r in store.list_audit()])
    assert password not in admin.get("/users/").content.decode()


NEW = "a long new passphrase"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"old_password": "wrong", "new_password1": NEW, "new_password2": NEW}, "old_password"),
        (
            {"old_password": "pw-1", "new_password1": NEW, "new_password2": NEW + "!"},
            "new_password2",
        ),
        (
            {"old_password": "pw-1", "new_password1": "short", "new_password2": "short"},
            "new_password2",
        ),
        (
            {"old_password": "pw-1", "new_password1": "password", "new_password2": "password"},
            "new_password2",
        ),
    ],
)
def test_a_bad_password_change_is_explained_beside_its_field_and_changes_nothing(
    signed_in: Client, store: Store, form: dict[str, str], field: str
) -> None:
    before = User.objects.get(username="viewer").password
    response = signed_in.post("/password/", form)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.content.decode()
    assert User.objects.get(username="viewer").password == before
    assert audit(store, "user.password_change") == []


def test_anyone_signed_in_changes_their_own_password_and_stays_signed_in(
    signed_in: Client, store: Store
) -> None:
    elsewhere = Client()
    assert elsewhere.login(username="viewer", password="pw-1")
    form = {"old_password": "pw-1", "new_password1": NEW, "new_password2": NEW}

    response = signed_in.post("/password/", form, follow=True)
    assert [m.message for m in response.context["messages"]] == ["Your password is changed."]
    assert signed_in.get("/").status_code == 200  # this session goes on
    assert elsewhere.get("/").status_code == 302  # the other one ended
    assert Client().login(username="viewer", password=NEW)
    assert audit(store, "user.password_change") == [("viewer", "user viewer", None, None)]
    assert NEW not in str([r.model_dump() for r in store.list_audit()])


@pytest.mark.usefixtures("audit_down")
def test_when_the_audit_cannot_be_written_the_password_stays(signed_in: Client) -> None:
    form = {"old_password": "pw-1", "new_password1": NEW, "new_password2": NEW}
    response = signed_in.post("/password/", form)
    assert response.status_code == 503
    assert "Nothing changed" in response.content.decode()
    assert Client().login(username="viewer", password="pw-1")


@pytest.mark.parametrize("role", ["viewer", "operator", None])
def test_only_admins_manage_users(
    client: Client, store: Store, django_user_model: Any, role: str | None
) -> None:
    client.force_login(user_in(django_user_model, role))
    assert client.get("/users/").status_code == 403
    form = {"action": "create", "username": "mallory", "role": "admin"}
    assert client.post("/users/", form).status_code == 403
    assert not User.objects.filter(username="mallory").exists()
    admin = User.objects.create_user(username="boss", password="pw-boss-1")
    assert client.post("/users/", {"action": "password", "user": admin.pk}).status_code == 403
    assert User.objects.get(username="boss").check_password("pw-boss-1")
    client.logout()
    assert client.get("/users/").status_code == 302


def test_the_first_admin_made_with_createsuperuser_manages_users(
    client: Client, store: Store, django_user_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "pw-root-1")
    call_command("createsuperuser", username="root", email="", interactive=False, verbosity=0)
    assert client.login(username="root", password="pw-root-1")

    users = client.get("/users/").content.decode()
    row = users.split('id="user-root"')[1].split("</tr>")[0]
    assert "every permission" in row and 'name="role"' not in row  # no role to pick
    assert client.get("/tokens/").status_code == 200
    page = client.post("/users/", {"action": "create", "username": "erin", "role": "admin"})
    assert page.status_code == 200
    assert role_of(User.objects.get(username="erin")) == "admin"
    assert audit(store, "user.create") == [("root", "user erin", None, {"role": "admin"})]


def test_the_users_page_says_nobody_is_locked_out_and_refuses_to_unlock_nothing(
    admin: Client, store: Store
) -> None:
    page = admin.get("/users/").content.decode()
    assert 'id="no-lockouts"' in page and "after 5 failed sign-ins" in page
    response = admin.post("/users/", {"action": "unlock", "kind": "account", "value": "ghost"})
    assert response.status_code == 422
    assert "has no failures counted" in response.content.decode()
    response = admin.post("/users/", {"action": "unlock", "kind": "planet", "value": "x"})
    assert response.status_code == 422
    assert store.list_audit(action="lockout.lift") == []


def test_only_admins_lift_lockouts(client: Client, store: Store, django_user_model: Any) -> None:
    client.force_login(user_in(django_user_model, "operator"))
    form = {"action": "unlock", "kind": "address", "value": "203.0.113.7"}
    assert client.post("/users/", form).status_code == 403
