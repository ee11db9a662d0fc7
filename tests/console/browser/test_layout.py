"""Every console page at 1280 px and at 768 px: nothing runs off the side of the window.

The page never scrolls sideways, the header's Sign out stays on screen, and the
statistics' per-entry "Saved" (the figure the page is for) shows without scrolling its
table. A screenshot of each page at each width is kept in ``LLMOPT_SCREENSHOT_DIR``
(else the test's temporary directory) for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ..demo_process import DEMO_USER, Demo

PAGES = [
    "/",
    "/config/",
    "/config/entry/?key=anthropic%3Aclaude-sonnet-4-6",
    "/batches/",
    "/stats/",
    "/audit/",
    "/rollback/",
    "/password/",
]
WIDTHS = [1280, 768]


def signed_in(browser: Browser, demo: Demo, width: int) -> Page:
    context = browser.new_context(base_url=demo.base, viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", DEMO_USER)
    page.fill("input[name=password]", demo.password)
    page.click("button[type=submit]")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def shots_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("LLMOPT_SCREENSHOT_DIR")
    directory = Path(chosen) if chosen else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways_and_sign_out_stays_on_screen(
    browser: Browser, demo: Demo, width: int, tmp_path: Path
) -> None:
    page = signed_in(browser, demo, width)
    overflowing: dict[str, int] = {}
    try:
        for path in PAGES:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            name = path.strip("/").split("?")[0].replace("/", "-") or "overview"
            page.screenshot(path=str(shots_dir(tmp_path) / f"{width}-{name}.png"), full_page=True)
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                overflowing[path] = scroll_width
            box = page.get_by_role("button", name="Sign out").bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, path
    finally:
        page.context.close()

    assert overflowing == {}, f"pages wider than {width} px: {overflowing}"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_statistics_show_each_entrys_savings_without_scrolling(
    browser: Browser, demo: Demo, width: int
) -> None:
    page = signed_in(browser, demo, width)
    try:
        page.goto("/stats/")
        saved = page.locator("#per-entry th", has_text="Saved")
        box = saved.bounding_box()
        container = page.locator("#per-entry").evaluate(
            "table => [table.parentElement.scrollWidth, table.parentElement.clientWidth]"
        )
        headers = page.locator("#per-entry th").all_inner_texts()
    finally:
        page.context.close()

    assert box is not None and box["x"] + box["width"] <= width, box
    # Next to the entry, so it is in view whatever the other columns' figures grow to.
    assert headers.index("Saved") == 1, headers
    scroll_width, client_width = container
    if width == 1280:  # the whole table fits; at 768 px it may scroll, Saved still shows
        assert scroll_width <= client_width, (scroll_width, client_width)
