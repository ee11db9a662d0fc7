"""An entry's mean quality score per hour over the last day, as a small bar chart drawn
on the server (inline SVG, the classes of the Budgets and Statistics charts; no chart
library). An hour without scored answers has no bar; the pass threshold is drawn across.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 280, 96
LEFT, RIGHT, TOP, BOTTOM = 4, 4, 16, 16
BAR_GAP = 2


@dataclass(frozen=True, slots=True)
class HourlyScore:
    """One entry's mean score (0..1, ``None`` without answers) and answers per hour,
    ``hours`` being each hour's start (UTC); ``svg`` draws it."""

    id: str
    entry_key: str
    hours: Sequence[datetime]
    means: Sequence[float | None]
    counts: Sequence[int]
    pass_threshold: float

    @property
    def svg(self) -> SafeString:
        plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        slot = plot_w / max(len(self.hours), 1)

        def y(value: float) -> float:
            return TOP + plot_h - plot_h * value

        bars = format_html_join(
            "",
            '<rect class="s-cost" x="{}" y="{}" width="{}" height="{}">'
            "<title>{}: mean {} ({} answers)</title></rect>",
            (
                (
                    _at(LEFT + slot * i + BAR_GAP / 2),
                    _at(y(mean)),
                    _at(max(slot - BAR_GAP, 1)),
                    _at(TOP + plot_h - y(mean)),
                    hour.strftime("%m-%d %H:00"),
                    f"{mean:.3f}",
                    count,
                )
                for i, (hour, mean, count) in enumerate(
                    zip(self.hours, self.means, self.counts, strict=True)
                )
                if mean is not None
            ),
        )
        threshold = format_html(
            '<line class="s-baseline" x1="{}" x2="{}" y1="{}" y2="{}">'
            "<title>pass threshold: {}</title></line>",
            LEFT,
            WIDTH - RIGHT,
            _at(y(self.pass_threshold)),
            _at(y(self.pass_threshold)),
            f"{self.pass_threshold:g}",
        )
        labels = format_html(
            '<text class="axis" x="{}" y="11">score 0–1 · pass at {}</text>'
            '<text class="axis" x="{}" y="{}">{}</text>'
            '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
            LEFT,
            f"{self.pass_threshold:g}",
            LEFT,
            HEIGHT - 3,
            self.hours[0].strftime("%H:00") if self.hours else "",
            WIDTH - RIGHT,
            HEIGHT - 3,
            self.hours[-1].strftime("%H:00") if self.hours else "",
        )
        return format_html(
            '<svg class="chart" id="{}" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="{}-title"><title id="{}-title">{}: mean quality score per '
            "hour (UTC), {} to {}</title>{}{}{}</svg>",
            self.id,
            WIDTH,
            HEIGHT,
            self.id,
            self.id,
            self.entry_key,
            self.hours[0].isoformat() if self.hours else "",
            self.hours[-1].isoformat() if self.hours else "",
            bars,
            threshold,
            labels,
        )


def _at(coordinate: float) -> str:
    return f"{coordinate:.1f}"
