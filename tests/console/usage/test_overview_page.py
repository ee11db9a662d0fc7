"""The Overview at /: kill switch, savings, hit rate, traffic, batches, trouble; live fragment."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.test import Client

from llmopt.killswitch import engage_kill_switch, release_kill_switch
from llmopt.store import (
    BatchRecord,
    BatchStatus,
    BudgetAlert,
    CircuitRecord,
    CircuitState,
    Store,
)

from .conftest import NOW, OLLAMA, SONNET, rollup, seed_usage


def batch(batch_id: str, status: BatchStatus, **fields: Any) -> BatchRecord:
    return BatchRecord(
        id=batch_id,
        provider="anthropic",
        model="claude-sonnet-4-6",
        entry_key=SONNET,
        status=status,
        created_at=NOW - timedelta(minutes=30),
        **fields,
    )


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</div>', html, flags=re.S)
    assert match is not None, element_id
    return re.sub(r"<[^>]+>", " ", match.group(1))


@pytest.fixture
def busy_store(store: Store) -> Store:
    seed_usage(store)
    release_kill_switch(store, actor="setup")
    store.add_usage(
        [
            # Yesterday: this month, not today.
            rollup(timedelta(days=1), calls=10, cost_usd=1.0, baseline_cost_usd=3.0),
            # Last month: neither.
            rollup(timedelta(days=20), calls=10, cost_usd=1.0, baseline_cost_usd=9.0),
            # The last five minutes (14:16 to 14:20): 2 optimized and 3 standard calls.
            rollup(timedelta(minutes=1), calls=3, optimized_calls=2, fallbacks=1),
            rollup(timedelta(minutes=4), OLLAMA, calls=2),
        ]
    )
    for batch_id, status in [
        ("b-pending", BatchStatus.PENDING),
        ("b-running", BatchStatus.IN_PROGRESS),
        ("b-done", BatchStatus.ENDED),
    ]:
        store.insert_batch(batch(batch_id, status))
    store.insert_batch(batch("b-failed", BatchStatus.FAILED, error="invalid_request: too large"))
    return store


def test_the_overview_shows_the_numbers_put_in_the_store(
    signed_in: Client, busy_store: Store
) -> None:
    response = signed_in.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Optimization is ON per entry" in html
    assert "$0.0300" in text_of(html, "savings-today")  # 0.05 - 0.02
    # Plus 2.00 yesterday and 1.50 two days ago; not the 8.00 of last month.
    assert "$3.53" in text_of(html, "savings-month")
    assert "69.0%" in text_of(html, "hit-rate-today")  # 10,000 of 14,000 Sonnet + 500 Ollama
    recent = text_of(html, "recent-calls")
    assert "2 optimized · 3 standard" in recent
    assert "1 fallbacks" in recent
    assert re.search(r'href="/batches/">\s*2\s*</a>', html)
    assert re.search(rf"<td>{SONNET}</td><td>1</td><td>1</td>", html)  # errors, fallbacks
    assert "invalid_request: too large" in html
    assert re.search(r'<a href="/batches/b-failed/">\s*b-failed\s*</a>', html)  # to its page


def test_after_a_rollback_the_overview_says_optimization_is_off(
    signed_in: Client, busy_store: Store
) -> None:
    engage_kill_switch(busy_store, actor="oncall", reason="test")

    html = signed_in.get("/", headers={"HX-Request": "true"}).content.decode()

    assert "All optimization is OFF" in html


def test_the_live_part_is_a_fragment_that_polls_itself(
    signed_in: Client, busy_store: Store
) -> None:
    response = signed_in.get("/", headers={"HX-Request": "true"})

    html = response.content.decode().strip()
    assert response.status_code == 200
    assert html.startswith('<section id="overview-live"')
    assert html.endswith("</section>")
    assert "<html" not in html and "<header" not in html
    assert 'hx-get="/"' in html
    assert 'hx-trigger="every 5s, visibilitychange from:document" data-poll-hidden="60s"' in html
    assert "2 optimized · 3 standard" in text_of(html, "recent-calls")
    assert response["Vary"] == "HX-Request, Cookie"  # page and fragment are cached apart


def test_the_old_address_of_the_live_part_leads_to_the_overview(
    signed_in: Client, busy_store: Store
) -> None:
    response = signed_in.get("/overview/live", headers={"HX-Request": "true"})

    assert response.status_code == 302 and response["Location"] == "/"
    html = signed_in.get("/overview/live", headers={"HX-Request": "true"}, follow=True)
    assert html.content.decode().strip().startswith('<section id="overview-live"')


def test_folding_does_not_change_what_the_overview_shows(
    signed_in: Client, busy_store: Store
) -> None:
    def main() -> str:
        html = signed_in.get("/").content.decode()
        return html[html.index("<main>") : html.index("</main>")]

    before = main()
    busy_store.fold_usage(through=NOW)

    assert main() == before


def test_the_overview_of_an_empty_store_says_optimization_is_off_until_released(
    signed_in: Client, store: Store
) -> None:
    html = signed_in.get("/").content.decode()

    assert "All optimization is OFF" in html
    assert "No errors or fallbacks." in html
    assert "No failed batches." in html


@pytest.mark.parametrize("hx", [{}, {"HX-Request": "true"}])
def test_anonymous_visitors_are_sent_to_sign_in(
    client: Client, store: Store, hx: dict[str, str]
) -> None:
    response = client.get("/", headers=hx)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("hx", [{}, {"HX-Request": "true"}])
def test_users_without_a_role_are_refused(
    outsider: Client, store: Store, hx: dict[str, str]
) -> None:
    assert outsider.get("/", headers=hx).status_code == 403


@pytest.mark.parametrize("path", ["/", "/stats/", "/config/", "/audit/", "/rollback/"])
def test_operators_get_a_confirmed_rollback_button_on_every_page(
    operator: Client, busy_store: Store, path: str
) -> None:
    html = operator.get(path).content.decode()

    form = re.search(
        r'<form method="post" action="/rollback/" class="header-rollback">.*?</form>',
        html,
        flags=re.S,
    )
    assert form is not None
    assert 'name="action" value="engage"' in form.group(0)
    assert 'data-confirm="Turn ALL optimization off now?"' in form.group(0)
    assert 'name="csrfmiddlewaretoken"' in form.group(0)


def test_viewers_get_the_rollback_link_but_no_button(signed_in: Client, busy_store: Store) -> None:
    html = signed_in.get("/").content.decode()

    assert 'href="/rollback/"' in html
    assert "header-rollback" not in html
    assert 'href="/stats/">Statistics</a>' in html
    assert 'href="/">Overview</a>' in html


def test_the_header_button_rolls_back(operator: Client, busy_store: Store) -> None:
    response = operator.post("/rollback/", {"action": "engage"})

    assert response.status_code == 302
    assert "All optimization is OFF" in operator.get("/").content.decode()


@pytest.mark.parametrize("value", ["false", "off"])
@pytest.mark.parametrize("hx", [{}, {"HX-Request": "true"}])
def test_the_consoles_own_llm_optimization_enabled_false_is_shown_beside_the_kill_switch(
    signed_in: Client,
    busy_store: Store,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    hx: dict[str, str],
) -> None:
    monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", value)

    html = signed_in.get("/", headers=hx).content.decode()

    banner = re.search(r'<p id="env-switch"[^>]*>(.*?)</p>', html, flags=re.S)
    assert banner is not None
    text = unescape(re.sub(r"<[^>]+>", "", banner.group(1)))
    assert f"LLM_OPTIMIZATION_ENABLED={value} in this process's environment" in text
    assert "the console process's environment only" in text
    assert "each backend process reads its own LLM_OPTIMIZATION_ENABLED" in text
    assert html.index('id="kill-switch"') < banner.start()
    assert "Optimization is ON per entry" in html  # the record is released; both are shown


def test_an_unrecognised_value_is_shown_as_off_with_how_to_fix_it(
    signed_in: Client, busy_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", "maybe")

    html = signed_in.get("/").content.decode()

    assert 'id="env-switch"' in html
    assert "LLM_OPTIMIZATION_ENABLED='maybe' is not true or false" in unescape(html)
    assert "set it to true or false, or unset it" in html


@pytest.mark.parametrize("value", [None, "true", "1"])
def test_no_environment_banner_when_it_leaves_optimization_on(
    signed_in: Client, busy_store: Store, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("LLM_OPTIMIZATION_ENABLED", raising=False)
    else:
        monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", value)

    for hx in ({}, {"HX-Request": "true"}):
        html = signed_in.get("/", headers=hx).content.decode()
        assert 'id="env-switch"' not in html and "LLM_OPTIMIZATION_ENABLED" not in html


def test_the_live_part_shows_this_periods_budget_alerts_and_circuits_not_closed(
    signed_in: Client, busy_store: Store
) -> None:
    today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)

    def alert(name: str, period_start: Any, threshold: int, **amounts: Any) -> BudgetAlert:
        return BudgetAlert(
            budget=name, period_start=period_start, threshold=threshold, at=NOW, **amounts
        )

    busy_store.add_budget_alert(alert("team-day", today, 80, usd=8.0, tokens=0, limit_usd=10.0))
    busy_store.add_budget_alert(
        alert("all-month", month, 50, usd=0, tokens=600_000, limit_tokens=1_200_000)
    )
    busy_store.add_budget_alert(
        alert("team-day", today - timedelta(days=1), 100, usd=10.0, tokens=0, limit_usd=10.0)
    )
    busy_store.swap_circuit(
        CircuitRecord(
            entry_key=SONNET, state=CircuitState.OPEN, updated_at=NOW, reason="5 failures"
        ),
        expected_version=0,
    )
    busy_store.swap_circuit(
        CircuitRecord(entry_key=OLLAMA, state=CircuitState.CLOSED, updated_at=NOW),
        expected_version=0,
    )

    html = signed_in.get("/", headers={"HX-Request": "true"}).content.decode()

    alerts = " ".join(unescape(text_of(html, "budget-alerts")).split())
    assert "team-day crossed 80% at 14:20 UTC: $8.00 of $10.00" in alerts
    assert "all-month crossed 50% at 14:20 UTC: 600k of 1.2M tokens" in alerts
    assert "100%" not in alerts  # yesterday's period is over
    circuits = " ".join(unescape(text_of(html, "open-circuits")).split())
    assert f"{SONNET} : open (5 failures)" in circuits
    assert OLLAMA not in circuits  # closed: nothing to see


def test_without_alerts_or_open_circuits_the_overview_says_nothing_of_them(
    signed_in: Client, busy_store: Store
) -> None:
    html = signed_in.get("/").content.decode()

    assert 'id="budget-alerts"' not in html and 'id="open-circuits"' not in html
