"""Real Chromium (Debian's ``chromium``, driven by Playwright) against the real demo.

The console under test is ``manage.py demo`` run as a user runs it: its own process, the
embedded store under a temporary var dir, the sandbox, the traffic generator, the Celery
worker and beat. One demo serves every journey of a module (starting it costs seconds)
and stops with it, so the rest of the suite does not share the machine with it.
Playwright's sync API keeps an event loop running in this thread while it is open: it is
module-scoped too, or asyncio tests that run later would find that loop.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``.ci/run``
installs it with apt-get), or the binary ``LLMOPT_CHROMIUM`` names. Without it the journeys
are skipped, before the demo starts, with one line saying to install Debian's chromium; with
``LLMOPT_REQUIRE_SYSTEM_TESTS=1`` (as ``.ci/run`` sets) that line is a failure instead, so CI
cannot pass them silently (see ``system_packages``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Request,
    Response,
    sync_playwright,
)

from ..demo_process import DEMO_USER, Demo, running_demo
from ..system_packages import require_system_binary

CHROMIUM = os.environ.get("LLMOPT_CHROMIUM", "/usr/bin/chromium")
# The flags this workplace's closed network needs (no background calls to Google).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """Chromium's path; set up first (autouse) so a skip comes before the demo starts."""
    return require_system_binary(
        CHROMIUM, package="chromium", otherwise="set LLMOPT_CHROMIUM to a Chromium binary"
    )


@pytest.fixture(scope="module")
def var_dir() -> Iterator[Path]:
    """The module's demo's data directory (``LLMOPT_VAR_DIR``: its store, its logs)."""
    path = Path(tempfile.mkdtemp(prefix="llmopt-browser-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def demo(var_dir: Path) -> Iterator[Demo]:
    with running_demo(var_dir) as demo:
        yield demo


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # launch() gives Chromium a new empty profile directory of its own each time.
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


# Chromium's own line for every response of 4xx/5xx. A page load may carry one on purpose
# (a form answered 422 with its errors, the favicon the console does not have): the
# journeys check those pages themselves. Failed XHR/fetch calls (htmx) count, below.
_RESOURCE_STATUS = "Failed to load resource: the server responded with a status of"


class PageErrors:
    """What the page reported as broken: ``console.error`` calls (htmx logs its syntax and
    response errors there), uncaught exceptions, and XHR/fetch calls (htmx polls and
    swaps) answered with a 4xx/5xx status.

    Every journey ends with :meth:`assert_none`; the fixture checks again at teardown,
    so an error reported after a journey's last look fails it too.
    """

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        self._checked = 0
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(_RESOURCE_STATUS):
            where = message.location.get("url") or "?"
            self.seen.append(f"console.error at {where}: {message.text}")

    def _page_error(self, error: Error) -> None:
        self.seen.append(f"uncaught {error.name}: {error.message}")

    def _response(self, response: Response) -> None:
        # Only reads what the event carries: a listener that waits on Playwright lets
        # the journey go on before the response is counted.
        request = response.request
        if request.resource_type in ("xhr", "fetch") and response.status >= 400:
            self.seen.append(f"{request.method} {request.url} answered {response.status}")

    def assert_none(self) -> None:
        self._checked = len(self.seen)
        assert not self.seen, "the page reported errors:\n" + "\n".join(self.seen)

    def unchecked(self) -> list[str]:
        return self.seen[self._checked :]


@pytest.fixture
def signed_in_page(browser: Browser, demo: Demo) -> Iterator[tuple[Page, PageErrors]]:
    context = browser.new_context(base_url=demo.base)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = PageErrors(page)
    page.goto("/login/")
    page.fill("input[name=username]", DEMO_USER)
    page.fill("input[name=password]", demo.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
    try:
        yield page, errors
    finally:
        context.close()
    late = errors.unchecked()
    if late:
        pytest.fail("the page reported errors after the journey's last check:\n" + "\n".join(late))


@pytest.fixture
def page(signed_in_page: tuple[Page, PageErrors]) -> Page:
    """A fresh browser context signed in as the demo's operator."""
    return signed_in_page[0]


@pytest.fixture
def page_errors(signed_in_page: tuple[Page, PageErrors]) -> PageErrors:
    """What ``page`` reported as broken, collected since it opened (see :class:`PageErrors`)."""
    return signed_in_page[1]


@pytest.fixture
def page_requests(page: Page) -> list[Request]:
    """Every request ``page`` makes from here on, in order (a poll may leave before the
    test reads the page). The listener only appends: a handler that waits on Playwright
    (``header_value`` does) would let the test go on before the request is counted."""
    seen: list[Request] = []

    def record(request: Request) -> None:  # Playwright takes no bound builtin as handler
        seen.append(request)

    page.on("request", record)
    return seen
