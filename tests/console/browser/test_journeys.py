"""The console's journeys in real Chromium, against one running demo (in this order).

Each fails on any error the page reports: a ``console.error`` (htmx logs its own errors
there), an uncaught exception, or an htmx request answered with a 4xx/5xx status.

1. An operator edits a flag: the validation error shows inline, then a valid value saves.
2. A live batch of the demo's traffic appears in the list without a reload; on its page
   the bar moves without a reload and polling stops at the end.
3. An operator cancels a live batch: the dialog says what it means, the answer is the
   batch's page at once, which follows the cancel to its end (polling only itself).
4. Rollback from the header, then restore: the demo's live traffic goes plain and comes
   back. The traffic generator calls a real OptimizedLLMWrapper every 1–2 s and logs each
   call's path (``cached`` / ``batched`` / ``standard``); the overview counts optimized
   and standard calls from the store's roll-ups. Both must follow the button.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Dialog, Page, Request, expect

from ...waiting import wait_until
from ..demo_process import Demo
from .conftest import PageErrors

ANTHROPIC = "/config/entry/?key=anthropic%3Aclaude-sonnet-4-6"


def test_an_invalid_value_is_explained_beside_its_field_and_a_valid_one_is_saved(
    page: Page, page_errors: PageErrors
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
    expect(field.locator(".error")).to_contain_text("Batch timeout")  # the field's label
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
    page_errors.assert_none()


@pytest.mark.timeout(300)
def test_a_batch_progresses_live_and_its_page_stops_polling_once_it_has_ended(
    page: Page, page_errors: PageErrors, page_requests: list[Request]
) -> None:
    # The generator sends a batch every 20–30 s; each runs for 12–52 s in the sandbox.
    # With nothing in flight the list's first page still polls (every 15 s), so the next
    # batch appears without a reload.
    requests = page_requests
    page.goto("/batches/?status=active")
    row = page.locator("tr.in-flight a[href^='/batches/batch_']").first
    row.wait_for(timeout=90_000)
    row.click()
    expect(page).to_have_url(re.compile(r"/batches/batch_[^/]+/$"))
    path = urlsplit(page.url).path

    def polls() -> list[Request]:
        # htmx polls with XHR; the page's own load is a document request.
        return [r for r in requests if r.resource_type == "xhr" and urlsplit(r.url).path == path]

    live = page.locator("#batch-live")
    expect(page.locator("#batch-status")).to_have_text(re.compile("in_progress|pending"))
    # textContent, not innerText: innerText follows layout, so it also changes when the
    # stylesheet arrives after the first read (seen on a slow CI machine).
    first = live.text_content()
    # The live section is replaced by htmx polling: elapsed time (and the bar) move on.
    page.wait_for_function(
        "first => document.querySelector('#batch-live').textContent !== first", arg=first
    )
    assert polls(), "the page changed without polling?"

    expect(page.locator("#batch-status")).to_have_text("ended", timeout=120_000)
    bar = page.locator("#batch-live progress")
    expect(bar).to_have_attribute("value", bar.get_attribute("max") or "")
    succeeded = int(page.locator("#count-succeeded").inner_text())
    assert succeeded > 0
    # Polling has stopped: no further requests for the fragment.
    after_end = len(polls())
    page.wait_for_timeout(6_000)
    assert len(polls()) == after_end
    expect(page.locator("#cancel-form")).to_have_count(0)
    page_errors.assert_none()


@pytest.mark.timeout(300)
def test_an_operator_cancels_a_live_batch_and_its_page_follows_the_cancel_to_the_end(
    page: Page, page_errors: PageErrors, page_requests: list[Request]
) -> None:
    requests = page_requests
    questions: list[str] = []

    def answer(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    mark, path = 0, ""

    # A batch runs 12–52 s: one still running when its page opens can be cancelled, unless
    # it ends between the page opening and the click (the console then rightly refuses).
    def cancelled_a_running_batch() -> bool:
        nonlocal mark, path
        page.goto("/batches/?status=active")
        row = page.locator("tr.in-flight a[href^='/batches/batch_']").first
        row.wait_for(timeout=90_000)
        row.click()
        if page.locator("#cancel").count() == 0:
            return False
        path = urlsplit(page.url).path
        page.once("dialog", answer)
        page.fill("#id_reason", "browser journey")
        mark = len(requests)
        with page.expect_navigation():
            page.locator("#cancel").click()
        return "has already ended" not in page.get_by_role("status").first.inner_text()

    wait_until(cancelled_a_running_batch, timeout=180, what="a running batch to cancel")
    expect(page.get_by_role("status").first).to_contain_text("Cancelling batch_")
    assert urlsplit(page.url).path == path  # back on the batch's page, not the action's
    assert "will not be answered" in questions[0] and "nothing more is billed" in questions[0]
    expect(page.locator("#cancel-form")).to_have_count(0)
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text(re.compile(r"\d+ canceled, \d+ already done"), timeout=60_000)
    expect(outcome).to_contain_text("Cancelled by")
    expect(page.locator("#batch-status")).to_have_text("ended")
    expect(page.locator("#batch-live")).not_to_contain_text("updating live")
    polled = {urlsplit(r.url).path for r in requests[mark:] if r.resource_type == "xhr"}
    assert polled == {path}, polled  # the batch's own page, never an action's URL
    page_errors.assert_none()


CALLS = re.compile(r"(\d+) optimized · (\d+) standard")


def recent_calls(page: Page) -> tuple[int, int]:
    found = CALLS.search(page.locator("#recent-calls").inner_text())
    assert found, page.locator("#recent-calls").inner_text()
    return int(found[1]), int(found[2])


def wait_for_recent_calls(
    page: Page, check: Callable[[int, int], bool], timeout: float = 30.0
) -> None:
    """Wait until the overview's live fragment (polled by htmx, no reload) shows
    (optimized, standard) call counts that satisfy ``check``."""
    try:
        wait_until(
            lambda: check(*recent_calls(page)),
            timeout=timeout,
            interval=0.5,
            what="the overview's recent calls to change",
        )
    except AssertionError as failure:
        raise AssertionError(f"{failure}; last seen {recent_calls(page)}") from None


def traffic_paths_since(demo: Demo, since: int) -> list[str]:
    lines = [line for line in demo.output[since:] if line.startswith("[traffic]")]
    return [m[1] for line in lines if (m := re.search(r" (cached|batched|standard) ", line))]


@pytest.mark.timeout(300)
def test_rollback_switches_live_traffic_to_the_standard_api_and_restore_brings_it_back(
    page: Page, page_errors: PageErrors, demo: Demo
) -> None:
    page.goto("/")
    expect(page.locator("#kill-switch")).to_have_class(re.compile(r"\breleased\b"))
    wait_for_recent_calls(page, lambda optimized, _: optimized > 0, timeout=60)

    page.once("dialog", lambda dialog: dialog.accept())
    mark = len(demo.output)
    page.locator("#header-rollback").click()
    expect(page.get_by_role("status")).to_contain_text("All optimization is off")
    expect(page.locator("#kill-switch")).to_have_class(re.compile(r"\bengaged\b"))

    page.goto("/")
    expect(page.locator("#kill-switch")).to_contain_text("OFF")
    _, standard_before = recent_calls(page)
    wait_for_recent_calls(page, lambda _, standard: standard > standard_before)
    # The generator's own log: its calls now go out plain. (A call already on the wire
    # when the switch flipped may still say cached; the last ones may not.)
    wait_until(
        lambda: traffic_paths_since(demo, mark)[-3:] == ["standard"] * 3,
        timeout=20,
        interval=0.5,
        what="the generator's last three calls to go to the standard API",
    )

    page.goto("/rollback/")
    page.once("dialog", lambda dialog: dialog.accept())
    mark = len(demo.output)
    page.locator("#restore").click()
    expect(page.get_by_role("status")).to_contain_text("Optimization restored")
    page.goto("/")
    expect(page.locator("#kill-switch")).to_have_class(re.compile(r"\breleased\b"))
    optimized_before, _ = recent_calls(page)
    wait_for_recent_calls(page, lambda optimized, _: optimized > optimized_before)
    wait_until(
        lambda: "cached" in traffic_paths_since(demo, mark),
        timeout=20,
        interval=0.5,
        what="a cached call from the generator",
    )
    page_errors.assert_none()
