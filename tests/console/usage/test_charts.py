"""Inline SVG line charts: lines through defined values, gaps where there are none."""

from __future__ import annotations

import re

from console.usage.charts import Chart, Series


def chart(values: list[float | None], *, ceiling: float | None = None) -> str:
    labels = [f"{h:02d}:00" for h in range(len(values))]
    series = [Series("hit rate", values, "s-hit")]
    return str(Chart("hit", "Cache hit rate", labels, series, fmt=str, ceiling=ceiling).svg)


def test_a_gap_splits_the_line_and_a_lone_value_is_a_dot() -> None:
    svg = chart([0.5, 0.75, None, None, 1.0, None], ceiling=1.0)

    [line] = re.findall(r'<polyline class="s-hit" points="([^"]+)"/>', svg)
    [dot] = re.findall(r'<circle class="s-hit" cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+"/>', svg)
    # Six labels over the 644-unit plot from x=64: one every 128.8; y runs 214 (0) to 28 (1).
    assert line == "64.0,121.0 192.8,74.5"
    assert dot == ("579.2", "28.0")


def test_nothing_to_draw_draws_no_line_and_no_dot() -> None:
    svg = chart([None, None, None])
    assert "<polyline" not in svg and "<circle" not in svg
    assert '<title id="hit-title">Cache hit rate</title>' in svg


def test_the_axis_rises_to_a_round_number_above_the_largest_value() -> None:
    svg = chart([3.0, 7.0, 4.0])
    axis = re.findall(r'<text class="axis" x="58" y="[\d.]+" text-anchor="end">([^<]+)</text>', svg)
    assert axis == ["0.0", "2.5", "5.0", "7.5", "10.0"]


def test_the_table_lists_every_label_with_each_value_escaped() -> None:
    series = [Series("a", [1.0, None], "s-hit"), Series("b", [2.0, 3.0], "s-cost")]
    table = Chart("t", "T", ["<h1>", "01:00"], series, fmt=lambda v: f"<{v:.0f}>").table_rows
    assert str(table) == (
        "<tr><td>&lt;h1&gt;</td><td>&lt;1&gt;</td><td>&lt;2&gt;</td></tr>"
        "<tr><td>01:00</td><td>—</td><td>&lt;3&gt;</td></tr>"
    )
