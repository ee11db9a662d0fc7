"""The Context journey in real Chromium, against the running demo: the demo's operator
opens the Context page from the nav, sees the demo's index of Python's documentation
topics with its embedding model and freshness (live), searches it and reads the chunks'
scores and the assembled context's token count, then re-indexes one document with a
reason, confirming, reads what was done, and finds it in the audit log.

Fails on any error the page reports (see ``conftest.PageErrors``), including its live
fragment's polls and the search's htmx request.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from console.demo.context import DEMO_INDEX

from .conftest import PageErrors


def test_an_operator_searches_the_demo_index_and_re_indexes_a_document(
    page: Page, page_errors: PageErrors
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Context", exact=True).click()
    expect(page).to_have_url(re.compile(r"/context/$"))
    expect(page.locator("#context-live")).to_have_attribute("hx-get", "/context/")
    index_row = page.locator(f'#context-indexes tr[data-index="{DEMO_INDEX}"]')
    expect(index_row).to_contain_text("wordllama:l2_supercat-256")
    expect(index_row).to_contain_text("ago")

    page.select_option("#id_search_index", DEMO_INDEX)
    page.fill("#id_search_q", "augmented assignment statements")
    page.select_option("#id_search_mode", "hybrid")
    page.fill("#id_search_max_tokens", "1500")
    page.locator("#search").click()
    expect(page.locator("#hits")).to_contain_text("pydoc_data.topics/augassign")
    expect(page.locator("#hit-1 td").nth(4)).to_have_text(re.compile(r"^\d+\.\d{4}$"))
    expect(page.locator("#context-tokens")).to_contain_text(re.compile(r"\d+ tokens of a 1500"))
    expect(page.locator("#context-text")).to_contain_text("[pydoc_data.topics/")
    expect(page).to_have_url(re.compile(r"/context/$"))  # htmx swapped the results in

    page.fill("#id_reindex_document", "topics/augassign")
    page.fill("#id_reindex_reason", "browser journey: check the vectors")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#reindex").click()
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"Re-indexed topics/augassign in python-docs: \d+ chunks? of 1 document")
    )

    page.goto("/audit/")
    expect(page.locator("main")).to_contain_text("retrieval.reindex")
    expect(page.locator("main")).to_contain_text("browser journey: check the vectors")
    page_errors.assert_none()
