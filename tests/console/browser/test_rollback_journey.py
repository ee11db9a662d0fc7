"""Rollback from the header, then restore: the demo's live traffic goes plain and comes back.

The traffic generator in the demo calls a real OptimizedLLMWrapper every 1–2 s and logs
each call's path (``cached`` / ``batched`` / ``standard``); the overview counts optimized
and standard calls from the store's roll-ups. Both must follow the button.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from .conftest import Demo

CALLS = re.compile(r"(\d+) optimized · (\d+) standard")


def recent_calls(page: Page) -> tuple[int, int]:
    found = CALLS.search(page.locator("#recent-calls").inner_text())
    assert found, page.locator("#recent-calls").inner_text()
    return int(found[1]), int(found[2])


def wait_until(page: Page, check: Callable[[int, int], bool], timeout: float = 30.0) -> None:
    """Wait until the overview's live fragment (polled by htmx, no reload) shows
    (optimized, standard) call counts that satisfy ``check``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        if check(*recent_calls(page)):
            return
    raise AssertionError(f"never held; last seen {recent_calls(page)}")


def traffic_paths_since(demo: Demo, since: int) -> list[str]:
    lines = [line for line in demo.log[since:] if line.startswith("[traffic]")]
    return [m[1] for line in lines if (m := re.search(r" (cached|batched|standard) ", line))]


@pytest.mark.timeout(300)
def test_rollback_switches_live_traffic_to_the_standard_api_and_restore_brings_it_back(
    page: Page, demo: Demo
) -> None:
    page.goto("/")
    expect(page.locator("#kill-switch")).to_have_class(re.compile(r"\breleased\b"))
    wait_until(page, lambda optimized, _: optimized > 0, timeout=60)

    page.once("dialog", lambda dialog: dialog.accept())
    mark = len(demo.log)
    page.locator("#header-rollback").click()
    expect(page.get_by_role("status")).to_contain_text("All optimization is off")
    expect(page.locator("#kill-switch")).to_have_class(re.compile(r"\bengaged\b"))

    page.goto("/")
    expect(page.locator("#kill-switch")).to_contain_text("OFF")
    _, standard_before = recent_calls(page)
    wait_until(page, lambda _, standard: standard > standard_before)
    # The generator's own log: its calls now go out plain. (A call already on the wire
    # when the switch flipped may still say cached; the last ones may not.)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and traffic_paths_since(demo, mark)[-3:] != ["standard"] * 3:
        time.sleep(0.5)
    assert traffic_paths_since(demo, mark)[-3:] == ["standard"] * 3

    page.goto("/rollback/")
    page.once("dialog", lambda dialog: dialog.accept())
    mark = len(demo.log)
    page.locator("#restore").click()
    expect(page.get_by_role("status")).to_contain_text("Optimization restored")
    page.goto("/")
    expect(page.locator("#kill-switch")).to_have_class(re.compile(r"\breleased\b"))
    optimized_before, _ = recent_calls(page)
    wait_until(page, lambda optimized, _: optimized > optimized_before)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "cached" not in traffic_paths_since(demo, mark):
        time.sleep(0.5)
    assert "cached" in traffic_paths_since(demo, mark)
