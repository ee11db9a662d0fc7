"""/stats/: charts and tables of usage summed from the store's hourly roll-ups."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from llmopt.store import Store

from .conftest import NOW, OLLAMA, SONNET, rollup, seed_usage


def main_of(html: str) -> str:
    return html[html.index("<main>") : html.index("</main>")]


def test_the_page_shows_the_totals_per_entry_that_were_put_in_the_store(
    signed_in: Client, store: Store
) -> None:
    seed_usage(store)

    response = signed_in.get("/stats/?range=24h")

    assert response.status_code == 200
    numbers = response.context["stats"]
    assert (numbers.totals.calls, numbers.totals.optimized_calls) == (15, 9)
    sonnet = dict(numbers.per_entry)[SONNET]
    assert (sonnet.calls, sonnet.errors, sonnet.batched_calls) == (10, 1, 2)
    assert sonnet.cost_usd == pytest.approx(0.02)
    assert sonnet.cache_hit_rate == pytest.approx(10_000 / 14_000)
    html = response.content.decode()
    row = re.search(rf"<tr><td>{SONNET}</td>(.*?)</tr>", html)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    # Saved first (0.05 - 0.02 in 24 h), then cost, baseline, hit rate, and the counts.
    assert cells[:9] == ["$0.0300", "$0.0200", "$0.0500", "71.4%", "10", "9", "2", "1", "0"]


def test_the_page_says_what_caching_wasted_in_total_and_per_entry(
    signed_in: Client, store: Store
) -> None:
    seed_usage(store)

    html = main_of(signed_in.get("/stats/?range=24h").content.decode())

    unread = re.search(r'<div class="tile" id="unread-writes" title="([^"]+)">(.*?)</div>', html)
    assert unread is not None
    assert "expired before any request read them" in unread.group(1)
    assert re.findall(r"<span[^>]*>(.*?)</span>", unread.group(2)) == [
        "Writes never read",
        "$0.0015",
        "30.0% of write spend",
    ]
    missed = re.search(r'<div class="tile" id="missed-reads" title="([^"]+)">(.*?)</div>', html)
    assert missed is not None
    assert "what such reads would have saved" in missed.group(1)
    assert "$0.0036" in missed.group(2)  # 0.0027 at 14:05 and 0.0009 at 11:50
    help_text = re.search(r'<p class="muted" id="waste-help">(.*?)</p>', html)
    assert help_text is not None
    assert help_text.group(1).startswith("Writes never read: Cache writes that expired")
    assert "Reads missed: Input a recent request had also sent" in help_text.group(1)

    waste = html[html.index('<table id="waste-per-entry"') :]
    waste = waste[: waste.index("</table>")]
    headers = re.findall(r"<th[^>]*>([^<]+)</th>", waste)
    assert headers == [
        "Entry",
        "Writes never read",
        "Share of write spend",
        "Write spend",
        "Reads missed",
    ]
    rows = {
        cells[0]: cells[1:]
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", waste.split("<tbody>")[1])
        )
    }
    assert rows == {
        SONNET: ["$0.0015", "30.0%", "$0.0050", "$0.0036"],
        OLLAMA: ["$0.0000", "—", "$0.0000", "$0.0000"],  # nothing spent on writes
    }


def test_without_write_spend_the_total_says_so_instead_of_a_share(
    signed_in: Client, store: Store
) -> None:
    store.add_usage([rollup(timedelta(minutes=5), calls=1, missed_read_cost_usd=0.25)])

    html = main_of(signed_in.get("/stats/?range=24h").content.decode())

    assert re.search(r'id="unread-writes".*?<span class="muted">no write spend</span>', html)
    assert re.search(r'id="missed-reads".*?<span class="value">\$0\.2500</span>', html)


def test_each_chart_has_a_title_and_its_numbers_in_a_details_table(
    signed_in: Client, store: Store
) -> None:
    seed_usage(store)

    html = signed_in.get("/stats/?range=24h").content.decode()

    svgs = re.findall(r"<svg class=\"chart\".*?</svg>", html, flags=re.S)
    assert len(svgs) == 3
    assert all(re.search(r"<title id=\"[^\"]+\">[^<]+</title>", svg) for svg in svgs)
    assert html.count("<details>") == 3
    # The hour starting 14:00 holds 8,000 cache reads of 10,000 input tokens.
    assert re.search(r"<tr><td>03-15 14:00</td><td>80\.0%</td></tr>", html)
    # 11:00 holds 2,000 reads of 4,000 Sonnet input tokens plus 500 of Ollama.
    assert re.search(r"<tr><td>03-15 11:00</td><td>44\.4%</td></tr>", html)
    assert re.search(r"<tr><td>03-15 14:00</td><td>\$0\.0400</td><td>\$0\.0125</td>", html)
    assert "<script" not in main_of(html)


def test_the_30_day_range_has_one_point_per_day_including_older_usage(
    signed_in: Client, store: Store
) -> None:
    seed_usage(store)

    numbers = signed_in.get("/stats/?range=30d").context["stats"]

    assert len(numbers.points) == 30
    assert numbers.points[-1].start == datetime(2026, 3, 15, tzinfo=UTC)
    by_day = {p.start.day: p.totals.calls for p in numbers.points if p.totals.calls}
    assert by_day == {13: 100, 15: 15}


def test_one_entry_can_be_shown_alone(signed_in: Client, store: Store) -> None:
    seed_usage(store)

    response = signed_in.get(f"/stats/?range=7d&entry={OLLAMA}")

    numbers = response.context["stats"]
    assert [key for key, _ in numbers.per_entry] == [OLLAMA]
    assert (numbers.totals.calls, numbers.totals.unpriced_calls) == (5, 5)
    assert len(numbers.points) == 7 * 24
    assert f'<option value="{OLLAMA}" selected>' in response.content.decode()


def test_folding_the_minutes_into_hours_does_not_change_the_page(
    signed_in: Client, store: Store
) -> None:
    seed_usage(store)
    before = {r: main_of(signed_in.get(f"/stats/?range={r}").content.decode()) for r in RANGES}

    assert store.fold_usage(through=NOW) > 0
    # A late flush into an already folded hour shows up as well.
    store.add_usage([rollup(timedelta(hours=2, minutes=45), calls=0)])

    after = {r: main_of(signed_in.get(f"/stats/?range={r}").content.decode()) for r in RANGES}
    assert after == before


RANGES = ("24h", "7d", "30d")


def test_an_unknown_range_is_refused_with_a_message(signed_in: Client, store: Store) -> None:
    response = signed_in.get("/stats/?range=1y")

    assert response.status_code == 400
    assert "Unknown range" in response.content.decode()


def test_the_page_works_with_no_usage_at_all(signed_in: Client, store: Store) -> None:
    response = signed_in.get("/stats/")

    assert response.status_code == 200
    assert "No usage in this range." in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, store: Store) -> None:
    response = client.get("/stats/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_users_without_a_role_are_refused(outsider: Client, store: Store) -> None:
    assert outsider.get("/stats/").status_code == 403
