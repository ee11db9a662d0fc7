"""An operator edits a flag: the validation error shows inline, then a valid value saves."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

ANTHROPIC = "/config/entry/?key=anthropic%3Aclaude-sonnet-4-6"


def test_an_invalid_value_is_explained_beside_its_field_and_a_valid_one_is_saved(
    page: Page,
) -> None:
    page.goto("/config/")
    page.get_by_role("link", name=re.compile("claude-sonnet-4-6")).first.click()
    expect(page).to_have_url(re.compile(re.escape(ANTHROPIC)))

    timeout = page.locator("#id_batchTimeout")
    original = timeout.input_value()
    timeout.fill("99999")
    page.get_by_role("button", name="Save").click()

    field = page.locator("#field-batchTimeout")
    expect(field).to_have_class(re.compile(r"\binvalid\b"))
    expect(field.locator(".error")).to_contain_text("batchTimeout")
    # Nothing was saved: a fresh load still shows the stored value.
    page.goto(ANTHROPIC)
    expect(page.locator("#id_batchTimeout")).to_have_value(original)

    new_value = "45" if original != "45" else "46"
    page.locator("#id_batchTimeout").fill(new_value)
    page.fill("#id_reason", "browser journey")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.locator("#id_batchTimeout")).to_have_value(new_value)
    page.goto("/audit/?action=config.update")
    expect(page.locator("main")).to_contain_text("browser journey")
