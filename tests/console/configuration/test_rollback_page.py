"""The rollback button: one audited write turns everything off; restore brings it back exactly."""

from __future__ import annotations

import pytest
from django.test import Client

from llmopt.killswitch import read_kill_switch, release_kill_switch
from llmopt.store import DocumentName, Store

from ..conftest import seed

pytestmark = pytest.mark.django_db


def test_an_operator_rolls_back_and_restores(operator: Client, store: Store) -> None:
    seed(store)
    release_kill_switch(store, actor="setup")
    flags_before = store.read_document(DocumentName.AI_CONFIG)
    page = operator.get("/rollback/").content.decode()
    assert "Optimization is ON per entry" in page and 'id="rollback"' in page

    response = operator.post(
        "/rollback/", {"action": "engage", "reason": "cost spike"}, follow=True
    )
    assert "All optimization is OFF" in response.content.decode()
    state = read_kill_switch(store)
    assert (state.engaged, state.actor, state.reason) == (True, "operator", "cost spike")

    operator.post("/rollback/", {"action": "release"})
    assert not read_kill_switch(store).engaged
    assert store.read_document(DocumentName.AI_CONFIG) == flags_before
    actions = [r.action for r in store.list_audit(target="kill_switch")]
    assert actions == ["killswitch.release", "killswitch.engage", "killswitch.release"]


def test_a_viewer_sees_the_state_but_cannot_roll_back(signed_in: Client, store: Store) -> None:
    release_kill_switch(store, actor="setup")
    page = signed_in.get("/rollback/").content.decode()
    assert "Rolling back needs the operator role" in page
    assert signed_in.post("/rollback/", {"action": "engage"}).status_code == 403
    assert not read_kill_switch(store).engaged


def test_an_unknown_action_changes_nothing(operator: Client, store: Store) -> None:
    release_kill_switch(store, actor="setup")
    assert operator.post("/rollback/", {"action": "explode"}).status_code == 400
    assert not read_kill_switch(store).engaged


def test_the_rollback_link_is_on_every_page(signed_in: Client, store: Store) -> None:
    for url in ("/config/", "/rollback/"):
        assert 'href="/rollback/"' in signed_in.get(url).content.decode()


def test_anonymous_users_are_sent_to_sign_in(client: Client, store: Store) -> None:
    for url in ("/rollback/", "/config/entry/?key=x"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.post("/rollback/", {"action": "engage"}).status_code == 302
    assert read_kill_switch(store).problem is not None  # never written


def test_a_form_of_megabytes_gets_a_413_page_and_changes_nothing(
    operator: Client, store: Store
) -> None:
    release_kill_switch(store, actor="setup")
    response = operator.post("/rollback/", {"action": "engage", "reason": "x" * 3_000_000})
    assert response.status_code == 413
    page = response.content.decode()
    assert 'id="too-large"' in page and "Nothing was saved" in page
    assert not read_kill_switch(store).engaged


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("x" * 501, "Reason must be at most 500 characters (got 501)"),
        ("spike\u202e", "U+202E"),
        ("spike\x1b[2J", "U+001B"),
    ],
)
def test_a_reason_the_free_text_rule_refuses_is_shown_beside_it_and_nothing_changes(
    operator: Client, store: Store, reason: str, says: str
) -> None:
    release_kill_switch(store, actor="setup")
    response = operator.post("/rollback/", {"action": "engage", "reason": reason})
    assert response.status_code == 422
    page = response.content.decode()
    assert says in page and 'id="reason-error"' in page
    assert not read_kill_switch(store).engaged
    assert store.list_audit(action="killswitch.engage") == []


def test_the_reason_field_says_how_long_it_may_be(operator: Client, store: Store) -> None:
    release_kill_switch(store, actor="setup")
    page = operator.get("/rollback/").content.decode()
    assert 'maxlength="500"' in page
