"""The Quality journey in real Chromium, against the running demo: the demo's operator
opens the Quality page from the nav, sees the demo's scores (its made-up day of
roll-ups), the degraded entry and the A/B verdict, live; changes the share of answers
scored with a reason and sees it saved, with the webhook never in clear; then sets the
first entry's strategy to a cascade and sees it, and finally puts it back to single.

Fails on any error the page reports (see ``conftest.PageErrors``), including its live
fragment's polls.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import PageErrors


def test_an_operator_reads_the_scores_edits_a_setting_and_sets_a_cascade(
    page: Page, page_errors: PageErrors
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Quality", exact=True).click()
    expect(page).to_have_url(re.compile(r"/quality/$"))
    expect(page.locator("#quality-live")).to_have_attribute("hx-get", "/quality/")
    expect(page.locator("#quality-on")).to_contain_text("Monitoring is on")
    first = page.locator("#scores-1")
    entry = first.get_attribute("data-entry")
    assert entry
    expect(first.locator("td").nth(2)).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#score-chart-1")).to_be_visible()
    expect(page.locator("#quality-degradation")).to_contain_text("degraded")
    expect(page.locator("#quality-ab")).to_contain_text("has the higher mean score")

    page.locator("#edit-quality summary").click()
    page.fill("#id_sampleRate", "0.5")
    page.fill("#id_reason", "browser journey: score half")
    page.locator("#quality-settings-form button[type=submit]").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the quality settings.")
    expect(page.locator("#quality-settings-shown")).to_contain_text('"sampleRate": 0.5')
    expect(page.locator("#quality-on")).to_contain_text("50.0%")

    others = page.locator("#strategy-row-2").get_attribute("data-entry")
    assert others
    page.locator("#strategy-edit-1 summary").click()
    # Only the chosen strategy's fields show: none for single, the cascade's for cascade.
    expect(page.locator("#id_s1_threshold")).to_be_hidden()
    page.select_option("#id_s1_strategy", "cascade")
    expect(page.locator("#id_s1_threshold")).to_be_visible()
    expect(page.locator("#id_s1_method")).to_be_hidden()
    page.fill("#id_s1_entries", f"{others}, {entry}")
    page.fill("#id_s1_threshold", "0.8")
    page.fill("#id_s1_reason", "browser journey: cheap first")
    page.locator("#strategy-form-1 button[type=submit]").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Saved the orchestration strategy of {entry}"
    )
    row = page.locator("#strategy-row-1")
    expect(row.locator(".strategy")).to_have_text("cascade")
    expect(row).to_contain_text(f"{others} → {entry}")
    expect(row).to_contain_text("threshold 0.8")

    # Back to single, so the demo's entry answers alone as before.
    page.locator("#strategy-edit-1 summary").click()
    page.select_option("#id_s1_strategy", "single")
    page.locator("#strategy-form-1 button[type=submit]").click()
    expect(page.locator("#strategy-row-1 .strategy")).to_have_text("single")

    page.goto("/audit/")
    expect(page.locator("main")).to_contain_text("orchestration.update")
    expect(page.locator("main")).to_contain_text("browser journey: cheap first")
    page_errors.assert_none()
