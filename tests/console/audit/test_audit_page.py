from __future__ import annotations

import re

import pytest
from django.test import Client

from console.audit.actions import AUDIT_ACTIONS
from llmopt.config import load_document, update_entry_flags
from llmopt.killswitch import engage_kill_switch
from llmopt.store import AuditEvent, Store

from ..conftest import SECRET, seed

pytestmark = pytest.mark.django_db


def test_every_change_is_listed_newest_first_with_its_diff(signed_in: Client, store: Store) -> None:
    seed(store)
    revision = load_document(store).revision or ""
    update_entry_flags(
        store,
        "ollama:llama3.1",
        {"batchTimeout": 45},
        expected_revision=revision,
        actor="alice",
        reason="slower",
    )
    engage_kill_switch(store, actor="bob", reason="spike")
    page = signed_in.get("/audit/").content.decode()
    actions = ("killswitch.engage", "config.update", "seed")
    order = [page.index(f"<code>{action}</code>") for action in actions]
    assert order == sorted(order)
    assert "<code>batchTimeout</code> — → 45" in page
    assert "alice" in page and "slower" in page
    assert SECRET not in page


def test_a_created_record_lists_its_fields_rather_than_one_blob(
    signed_in: Client, store: Store
) -> None:
    store.record_audit(
        AuditEvent(
            actor="t",
            action="killswitch.release",
            target="kill_switch",
            before=None,
            after={"engaged": False, "reason": "first start"},
        )
    )
    page = signed_in.get("/audit/").content.decode()
    assert "<code>engaged</code> — → false" in page
    assert "<code>reason</code> — → &quot;first start&quot;" in page  # escaped JSON


def test_it_filters_by_actor_and_action(signed_in: Client, store: Store) -> None:
    seed(store)
    engage_kill_switch(store, actor="bob")
    page = signed_in.get("/audit/?actor=bob").content.decode()
    assert "<code>killswitch.engage</code>" in page and "<code>seed</code>" not in page
    # What one types in a filter box: part of a name, in any case.
    page = signed_in.get("/audit/?actor=BO&target=switch").content.decode()
    assert "<code>killswitch.engage</code>" in page and "<code>seed</code>" not in page
    page = signed_in.get("/audit/?action=killswitch.engage").content.decode()
    assert "<code>killswitch.engage</code>" in page and "<code>seed</code>" not in page
    assert (
        "No changes recorded for this filter"
        in signed_in.get("/audit/?action=nope").content.decode()
    )


def test_the_action_filter_offers_every_action_by_name_and_keeps_the_chosen_one(
    signed_in: Client, store: Store
) -> None:
    seed(store)
    page = signed_in.get("/audit/?action=killswitch.engage").content.decode()
    options = re.findall(r'<option value="([^"]*)"( selected)?>', page)
    assert [value for value, _ in options] == ["", *AUDIT_ACTIONS]
    assert [value for value, chosen in options if chosen] == ["killswitch.engage"]
    assert "rollback (kill switch engaged) (killswitch.engage)" in page
    # An action the catalogue does not know (a newer writer's) can still be filtered on.
    store.record_audit(AuditEvent(actor="t", action="future.thing", target="x"))
    page = signed_in.get("/audit/?action=future.thing").content.decode()
    assert '<option value="future.thing" selected>' in page
    assert "<code>future.thing</code>" in page


def test_it_pages_through_long_logs(signed_in: Client, store: Store) -> None:
    for n in range(55):
        store.record_audit(AuditEvent(actor="t", action=f"action.{n:02d}", target="x"))
    first = signed_in.get("/audit/").content.decode()
    assert "action.54" in first and "action.04" not in first and 'id="older"' in first
    link = first.split('id="older"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = signed_in.get("/audit/" + link.replace("&amp;", "&")).content.decode()
    assert "action.04" in second and "action.54" not in second


def test_outsiders_and_anonymous_users_cannot_read_it(outsider: Client, store: Store) -> None:
    assert outsider.get("/audit/").status_code == 403


@pytest.mark.parametrize("cursor", ["not-an-id", "9" * 40, "²"])
def test_a_bad_page_cursor_is_a_clear_400_not_a_store_error(
    signed_in: Client, store: Store, cursor: str
) -> None:
    seed(store)
    response = signed_in.get("/audit/", {"before": cursor})
    assert response.status_code == 400
    assert "does not exist" in response.content.decode()
