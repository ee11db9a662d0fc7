"""The Responses journey in real Chromium, against the running demo: the demo's operator
opens the Responses page from the nav, sees the statistics apart from prompt caching and
live, turns the response cache on for the first entry with a reason, sees it on, then
invalidates that entry's stored answers, confirming, and reads how many went.

Fails on any error the page reports (see ``conftest.PageErrors``), including its live
fragment's polls.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import PageErrors


def test_an_operator_turns_the_response_cache_on_and_invalidates_an_entrys_answers(
    page: Page, page_errors: PageErrors
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Responses", exact=True).click()
    expect(page).to_have_url(re.compile(r"/responses/$"))
    expect(page.locator("#not-prompt-caching")).to_contain_text("not prompt caching")
    expect(page.locator("#responses-live")).to_have_attribute("hx-get", "/responses/")

    entry = page.locator("#settings-row-1").get_attribute("data-entry")
    assert entry
    page.locator("#edit-1 summary").click()
    page.check("#id_1_enabled")
    page.fill("#id_1_ttlSeconds", "600")
    page.fill("#id_1_reason", "browser journey: cache the FAQ")
    page.locator("#settings-form-1 button[type=submit]").click()

    expect(page.get_by_role("status")).to_contain_text(
        f"Saved the response cache settings of {entry}"
    )
    expect(page.locator("#settings-row-1")).to_contain_text("600")
    stats_row = page.locator(f'#response-stats tr[data-entry="{entry}"]')
    expect(stats_row).to_contain_text("on, exact only")

    page.select_option("#id_invalidate_entry", entry)
    page.fill("#id_invalidate_reason", "browser journey: the FAQ changed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#invalidate").click()
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(rf"Removed \d+ stored answers? of {re.escape(entry)}\.")
    )

    page.goto("/audit/")
    expect(page.locator("main")).to_contain_text("responses.invalidate")
    expect(page.locator("main")).to_contain_text("browser journey: the FAQ changed")
    page_errors.assert_none()
