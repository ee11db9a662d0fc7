"""The Routing journey in real Chromium, against the running demo: the demo's operator
(who holds the editing permission) opens the Routing page from the nav, forces a
circuit open with a reason, sees it open and the incident listed, then clears it.

Fails on any error the page reports (see ``conftest.PageErrors``), including its live
fragments' polls.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import PageErrors


def test_an_operator_forces_a_circuit_open_and_sees_it_open_with_its_incident(
    page: Page, page_errors: PageErrors
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Routing", exact=True).click()
    expect(page).to_have_url(re.compile(r"/routing/$"))
    expect(page.locator("#routing-kill-switch")).to_be_visible()

    entry = page.locator("#id_entry option").first.get_attribute("value")
    assert entry
    page.select_option("#id_entry", entry)
    page.fill("#id_force_reason", "browser journey: provider outage")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#force-open").click()

    expect(page.get_by_role("status")).to_contain_text(f"Circuit of {entry}")
    row = page.locator(f'#circuits tr[data-entry="{entry}"]')
    expect(row).to_contain_text("open (forced)")
    expect(row).to_contain_text("browser journey: provider outage")
    expect(page.locator("#routing-incidents")).to_contain_text("circuit_forced")
    expect(page.locator("#routing-incidents")).to_contain_text("browser journey")

    # Clear it again, so the demo's traffic is routed as before.
    page.select_option("#id_entry", entry)
    page.locator("#force-clear").click()
    expect(page.locator(f'#circuits tr[data-entry="{entry}"]')).not_to_contain_text("forced")
    page_errors.assert_none()
