"""An entry's page lists its last cache plans: where the breakpoints went and why."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from llmopt.store import PlanBreakpoint, PlanRecord, Store

from ..conftest import SECRET, seed

pytestmark = pytest.mark.django_db
KEY = "anthropic:claude-sonnet-4-6"
URL = "/config/entry/?key=anthropic%3Aclaude-sonnet-4-6"
T0 = datetime(2026, 3, 15, 14, 0, tzinfo=UTC)


def plan(n: int, **fields: Any) -> PlanRecord:
    values: dict[str, Any] = {
        "entry_key": KEY,
        "at": T0 + timedelta(minutes=n),
        "model": "claude-sonnet-4-6",
        "content_blocks": 4,
        "estimated_tokens": 5_000 + n,
        "breakpoints": (
            PlanBreakpoint(
                location="system[0]",
                ttl=3600,
                prefix_tokens=2_048,
                origin="planner",
                reason=f"reason {n}: the system prompt recurs every 9 minutes",
            ),
            PlanBreakpoint(
                location="messages[2].content[0]",
                ttl=300,
                prefix_tokens=3_100,
                origin="caller",
                reason="kept the caller's marker",
            ),
        ),
        "decisions": (f"decision {n}: placed 2 breakpoints", "left the tail unmarked"),
    }
    return PlanRecord(**(values | fields))


def plans_section(html: str) -> str:
    found = re.search(r'<section class="card" id="recent-plans">(.*?)</section>', html, re.S)
    assert found is not None
    return found.group(1)


def test_a_viewer_sees_the_last_ten_plans_newest_first_with_each_breakpoints_reason(
    signed_in: Client, store: Store
) -> None:
    seed(store)
    store.add_plans(plan(n) for n in range(12))
    store.add_plans([plan(99, entry_key="another-entry")])

    section = plans_section(signed_in.get(URL).content.decode())

    summaries = re.findall(r"<summary>(.*?)</summary>", section, re.S)
    assert len(summaries) == 10
    assert summaries[0].startswith('<time datetime="2026-03-15T14:11:00+00:00">2026-03-15 14:11:00')
    assert "2 breakpoints · about 5011 input tokens in 4 blocks" in summaries[0]
    assert "14:02:00" in summaries[-1]
    assert section.count("<details") == 10 and section.count(" open>") == 1
    newest = section[: section.index("</details>")]
    body = newest[newest.index("<tbody>") : newest.index("</tbody>")]
    rows = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]
    assert rows == [
        [
            "system[0]",
            "1 h",
            "2048",
            "planner",
            "reason 11: the system prompt recurs every 9 minutes",
        ],
        ["messages[2].content[0]", "5 m", "3100", "caller", "kept the caller&#x27;s marker"],
    ]
    assert re.findall(r"<li>(.*?)</li>", newest) == [
        "decision 11: placed 2 breakpoints",
        "left the tail unmarked",
    ]
    assert "decision 99" not in section  # another entry's


def test_a_plans_texts_are_escaped(signed_in: Client, store: Store) -> None:
    seed(store)
    store.add_plans([plan(0, decisions=("<script>alert(1)</script>",))])

    section = plans_section(signed_in.get(URL).content.decode())

    assert "<script>" not in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section


def test_the_waste_a_plan_found_is_shown_in_its_words(signed_in: Client, store: Store) -> None:
    seed(store)
    store.add_plans([plan(0, unread_write_tokens_5m=1_500, missed_read_tokens=800)])

    section = plans_section(signed_in.get(URL).content.decode())

    assert (
        "Found earlier cache writes that expired unread: 1500 tokens of 5 m writes, "
        "0 of 1 h writes."
    ) in section
    assert "800 tokens a recent request had also sent went out without a cache read." in section


def test_a_plan_that_found_no_waste_says_nothing_of_it(signed_in: Client, store: Store) -> None:
    seed(store)
    store.add_plans([plan(0)])

    section = plans_section(signed_in.get(URL).content.decode())

    assert "expired unread" not in section and "without a cache read" not in section


def test_an_entry_without_plans_says_when_they_will_appear(signed_in: Client, store: Store) -> None:
    seed(store)

    section = plans_section(signed_in.get(URL).content.decode())

    assert 'id="no-plans"' in section and "<details" not in section


def test_unreadable_plans_leave_the_form_working_and_say_why(
    operator: Client, store: Store, settings: Any
) -> None:
    seed(store)
    with sqlite3.connect(settings.LLMOPT_SQLITE_PATH) as raw:
        raw.execute("DROP TABLE plans")
    raw.close()

    response = operator.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="flags-form"' in html
    assert re.search(r'id="plans-error">The recent plans cannot be read: .*no such table', html)
    assert SECRET not in html


def test_users_without_a_role_see_no_plans(outsider: Client, store: Store) -> None:
    seed(store)
    store.add_plans([plan(0)])

    response = outsider.get(URL)

    assert response.status_code == 403
    assert "reason 0" not in response.content.decode()
