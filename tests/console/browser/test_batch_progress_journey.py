"""A live batch of the demo's traffic: its bar moves without a reload; polling stops at the end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Request, expect


@pytest.mark.timeout(300)
def test_a_batch_progresses_live_and_its_page_stops_polling_once_it_has_ended(
    page: Page,
) -> None:
    # The generator sends a batch every 20–30 s; each runs for 12–52 s in the sandbox.
    # A list showing nothing in flight stops polling, so look again until one is there.
    row = page.locator("tr.in-flight a[href^='/batches/batch_']").first
    for _ in range(60):
        page.goto("/batches/?status=active")
        if row.count():
            break
        page.wait_for_timeout(2_000)
    row.click()
    expect(page).to_have_url(re.compile(r"/batches/batch_[^/]+/$"))
    path = page.url.split("//", 1)[1].split("/", 1)[1]

    polls: list[str] = []

    def count(request: Request) -> None:
        if request.url.endswith(path) and request.header_value("hx-request") == "true":
            polls.append(request.url)

    page.on("request", count)
    live = page.locator("#batch-live")
    expect(page.locator("#batch-status")).to_have_text(re.compile("in_progress|pending"))
    first = live.inner_text()
    # The live section is replaced by htmx polling: elapsed time (and the bar) move on.
    page.wait_for_function(
        "first => document.querySelector('#batch-live').innerText !== first", arg=first
    )
    assert polls, "the page changed without polling?"

    expect(page.locator("#batch-status")).to_have_text("ended", timeout=120_000)
    bar = page.locator("#batch-live progress")
    expect(bar).to_have_attribute("value", bar.get_attribute("max") or "")
    succeeded = int(page.locator("#count-succeeded").inner_text())
    assert succeeded > 0
    # Polling has stopped: no further requests for the fragment.
    after_end = len(polls)
    page.wait_for_timeout(6_000)
    assert len(polls) == after_end
    expect(page.locator("#cancel-form")).to_have_count(0)
