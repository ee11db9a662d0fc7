"""Line charts as inline SVG, drawn on the server: no chart library, nothing to download.

A ``Chart`` holds its numbers once; the template draws it with ``chart.svg`` and lists
the same numbers in a table (``chart.table_rows``) for screen readers and copy-paste.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 28, 26  # room for axis labels and the legend
GRID_LINES = 4
DOT_RADIUS = 3.5


@dataclass(frozen=True, slots=True)
class Series:
    """One line: its name, its value per label (``None`` where undefined) and its CSS class."""

    name: str
    values: Sequence[float | None]
    css: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A titled line chart over shared x labels, formatting its values with ``fmt``.

    The y axis runs from 0 to ``ceiling``, or to a round number above the largest value.
    """

    id: str
    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    fmt: Callable[[float], str]
    ceiling: float | None = None

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        """(label, formatted value per series) for the table beside the chart."""
        return [
            (label, ["—" if (v := s.values[i]) is None else self.fmt(v) for s in self.series])
            for i, label in enumerate(self.labels)
        ]

    @property
    def table_rows(self) -> SafeString:
        """``rows`` as the table's ``<tr>`` elements, every value escaped.

        Plain string building: 168 hours times every series is some 700 cells a chart,
        and both a template loop and ``format_html`` per cell cost tens of milliseconds.
        """
        html = "".join(
            f"<tr><td>{escape(label)}</td>{''.join(f'<td>{escape(v)}</td>' for v in values)}</tr>"
            for label, values in self.rows
        )
        return mark_safe(html)  # built from escaped values only

    @property
    def svg(self) -> SafeString:
        top = self.ceiling or _nice_ceiling(
            max((v for s in self.series for v in s.values if v is not None), default=0.0)
        )
        plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        count = len(self.labels)

        def x(i: int) -> float:
            return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

        def y(value: float) -> float:
            return TOP + plot_h - (plot_h * value / top if top else 0.0)

        grid = format_html_join(
            "",
            '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
            '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
            (
                (LEFT, WIDTH - RIGHT, _at(y(v)), _at(y(v)), LEFT - 6, _at(y(v) + 4), self.fmt(v))
                for v in (top * k / GRID_LINES for k in range(GRID_LINES + 1))
            ),
        )
        ticks = sorted({0, count // 2, count - 1}) if count else []
        x_labels = format_html_join(
            "",
            '<text class="axis" x="{}" y="{}" text-anchor="{}">{}</text>',
            # The outer labels hang inwards, or the plot's edges would cut them off.
            ((_at(x(i)), HEIGHT - 6, _anchor(i, count), self.labels[i]) for i in ticks),
        )
        runs = [(s.css, run) for s in self.series for run in _runs(s.values)]
        lines = format_html_join(
            "",
            '<polyline class="{}" points="{}"/>',
            (
                (css, " ".join(f"{_at(x(i))},{_at(y(v))}" for i, v in run))
                for css, run in runs
                if len(run) > 1
            ),
        )
        # A value with no defined neighbour has no line to be part of: a dot shows it.
        dots = format_html_join(
            "",
            '<circle class="{}" cx="{}" cy="{}" r="{}"/>',
            (
                (css, _at(x(run[0][0])), _at(y(run[0][1])), DOT_RADIUS)
                for css, run in runs
                if len(run) == 1
            ),
        )
        legend = format_html_join(
            "",
            '<text class="legend {}" x="{}" y="16">■ {}</text>',
            ((s.css, LEFT + 150 * n, s.name) for n, s in enumerate(self.series)),
        )
        return format_html(
            '<svg class="chart" id="{}" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="{}-title"><title id="{}-title">{}</title>{}{}{}{}{}</svg>',
            self.id,
            WIDTH,
            HEIGHT,
            self.id,
            self.id,
            self.title,
            grid,
            x_labels,
            lines or mark_safe(""),
            dots or mark_safe(""),
            legend,
        )


def _at(coordinate: float) -> str:
    return f"{coordinate:.1f}"


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Stretches of defined values: a gap in the data is a gap in the line."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, value))
    if current:
        runs.append(current)
    return runs


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (1 for nothing to show)."""
    if value <= 0:
        return 1.0
    magnitude: float = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _anchor(index: int, count: int) -> str:
    if count > 1 and index == 0:
        return "start"
    if count > 1 and index == count - 1:
        return "end"
    return "middle"
