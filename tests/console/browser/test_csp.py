"""Every page in real Chromium under the console's Content-Security-Policy.

The policy allows no inline script or style and no eval; Chromium reports each thing it
blocks as a ``securitypolicyviolation`` event and a console error. Here every page an
admin sees (and the sign-in page, and the API docs) loads, its live fragment swaps, and
nothing is blocked or logged. The behaviour that moved out of the pages into
``console.js`` is checked too: a confirmation that is dismissed submits nothing, and a
live fragment polls slowly while the tab is hidden (on Playwright's fake clock).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Error, Page, expect

from ..demo_process import ROOT, Demo

ADMIN, ADMIN_PASSWORD = "csp-admin", "a long admin passphrase 7"
PAGES = [
    "/",
    "/config/",
    "/config/entry/?key=anthropic%3Aclaude-sonnet-4-6",
    "/batches/",
    "/stats/",
    "/rollback/",
    "/audit/",
    "/users/",
    "/tokens/",
    "/password/",
    "/api/docs",
]
# Recorded before any of the page's own scripts run (init scripts are not subject to CSP).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
window.__polls = {sent: 0, held: 0};
window.addEventListener("htmx:confirm", (event) => {
  if (event.detail.elt.dataset.pollHidden !== undefined) {
    window.__polls[event.defaultPrevented ? "held" : "sent"] += 1;
  }
});
"""


@pytest.fixture(scope="module")
def admin_account(demo: Demo, var_dir: Path) -> str:
    """An admin of the running demo (the Users and API tokens pages are theirs)."""
    env = {
        **os.environ,
        "LLMOPT_VAR_DIR": str(var_dir),
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput"]
        + ["--username", ADMIN, "--email", "admin@example.invalid"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return ADMIN


class Reports:
    """Console errors and uncaught exceptions of one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", self._uncaught)

    def _console(self, message: ConsoleMessage) -> None:
        # The console has no favicon: Chromium's 404 line for it is not a page's error.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(message.text)

    def _uncaught(self, error: Error) -> None:
        self.errors.append(f"uncaught {error.name}: {error.message}")


@pytest.fixture
def admin(browser: Browser, demo: Demo, admin_account: str) -> Iterator[tuple[Page, Reports]]:
    context = browser.new_context(base_url=demo.base)
    context.set_default_timeout(15_000)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    reports = Reports(page)
    page.goto("/login/")
    page.fill("input[name=username]", admin_account)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
    try:
        yield page, reports
    finally:
        context.close()


def violations(page: Page) -> list[str]:
    return list(page.evaluate("window.__violations"))


def test_no_page_breaks_the_policy_or_logs_an_error(
    admin: tuple[Page, Reports], browser: Browser, demo: Demo
) -> None:
    page, reports = admin
    broken = {}
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.ok, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        if violations(page) or reports.errors:
            broken[path] = violations(page) + reports.errors
        reports.errors.clear()
    # Swagger UI drew the operations (it runs from ninja's static files, under the policy).
    page.goto("/api/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    assert broken == {}

    anonymous = browser.new_context(base_url=demo.base)
    anonymous.add_init_script(RECORD_VIOLATIONS)
    try:
        login = anonymous.new_page()
        login_reports = Reports(login)
        login.goto("/login/")
        login.wait_for_load_state("networkidle")
        assert violations(login) == [] and login_reports.errors == []
    finally:
        anonymous.close()


def test_the_live_overview_swaps_in_without_eval_and_polls_slowly_while_hidden(
    admin: tuple[Page, Reports], browser: Browser, demo: Demo
) -> None:
    page, reports = admin
    page.clock.install()
    page.goto("/")
    expect(page.locator("#overview-live")).to_be_visible()
    # From here the page's time moves only when the test moves it.
    now = datetime.fromtimestamp(page.evaluate("Date.now()") / 1000, tz=UTC)
    page.clock.pause_at(now + timedelta(milliseconds=100))
    page.evaluate("window.__polls = {sent: 0, held: 0}")
    # Visible: every 5 s. Each poll swaps the fragment (htmx, no inline script, no eval).
    # The live part polls the Overview's own URL, as htmx (the view answers the fragment).
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true") as polled:
        page.clock.run_for(5_500)
    assert polled.value.ok
    page.clock.run_for(20_000)
    polls = page.evaluate("window.__polls")
    assert polls["sent"] >= 4 and polls["held"] == 0, polls

    # Hidden: at most one poll a minute; back in view, one at once.
    page.evaluate(
        """() => {
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
        window.__polls = {sent: 0, held: 0};
      }"""
    )
    page.clock.run_for(125_000)
    hidden = page.evaluate("window.__polls")
    assert hidden["sent"] == 2 and hidden["held"] >= 20, hidden
    page.evaluate(
        """() => {
        Object.defineProperty(document, "visibilityState", {value: "visible", configurable: true});
        window.__polls = {sent: 0, held: 0};
        document.dispatchEvent(new Event("visibilitychange"));
      }"""
    )
    assert page.evaluate("window.__polls")["sent"] == 1
    assert violations(page) == [] and reports.errors == []


def test_a_confirmation_submits_only_when_accepted(admin: tuple[Page, Reports]) -> None:
    page, reports = admin
    posts: list[str] = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    asked: list[str] = []

    def answer(accept: bool) -> Callable[[Dialog], None]:
        def handle(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.goto("/rollback/")
    released = page.locator("main").inner_text()
    page.once("dialog", answer(False))
    page.locator("#header-rollback").click()
    page.reload()  # a round trip: a POST sent by the click would have been seen before it
    assert asked == ["Turn ALL optimization off now?"] and posts == []
    assert page.locator("main").inner_text() == released

    page.once("dialog", answer(True))
    page.locator("#header-rollback").click()
    expect(page.get_by_role("status")).to_contain_text("All optimization is off")
    assert len(posts) == 1
    page.once("dialog", answer(True))
    page.locator("#restore").click()
    expect(page.get_by_role("status")).to_contain_text("Optimization restored")
    assert asked[-1] == "Restore optimization for every entry?" and len(posts) == 2
    assert violations(page) == [] and reports.errors == []
