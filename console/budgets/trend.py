"""Each budget's spend per UTC day over the last two weeks, as a small bar chart drawn on
the server (inline SVG, the classes of the Statistics page's charts; no chart library).

The days come from the store's per-minute route statistics (``Store.route_stats``): what
the calls routed to each entry cost, the calls the budgets count. A budget of one entry
sums that entry's, an overall budget every entry's. Its bars are in USD, or in tokens
when it has no USD limit; a daily budget's limit is drawn across them.

Summing two weeks of minutes takes about half a second with three busy entries (30,000
roll-ups) and the page polls every few seconds, so :class:`DailyRouteSpend` sums a day
once it has ended (and no late minute can still arrive) and keeps it; each poll sums only
today.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from llmopt.store import Store
from llmopt.tokens import BudgetSettings

TREND_DAYS = 14
# Route statistics reach the store a second or so after their minute; a day is summed
# for good only this long after it ended.
LATE_MINUTES = timedelta(minutes=10)
WIDTH, HEIGHT = 280, 96
LEFT, RIGHT, TOP, BOTTOM = 4, 4, 16, 16
BAR_GAP = 2

DaySums = dict[str, tuple[float, int]]  # entry key -> (USD, tokens)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class DailyRouteSpend:
    """What routed calls cost per UTC day and entry, summed from the route statistics;
    ended days summed once per store and kept. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._ended: dict[date, DaySums] = {}

    def days(self, store: Store, *, first: date, now: datetime) -> dict[date, DaySums]:
        """Each day from ``first`` to the one holding ``now``, with each entry's spend."""
        today = now.astimezone(UTC).date()
        settled = (now - LATE_MINUTES).astimezone(UTC).date()  # days before it are kept
        wanted = [first + timedelta(days=n) for n in range((today - first).days + 1)]
        with self._lock:
            if self._store is not store:
                self._store, self._ended = store, {}
            known = {day: self._ended[day] for day in wanted if day in self._ended}
        missing = [day for day in wanted if day < settled and day not in known]
        if missing:
            ended = self._sum(store, _midnight(missing[0]), _midnight(settled), missing)
            with self._lock:
                if self._store is store:
                    self._ended = {d: s for d, s in self._ended.items() if d >= first}
                    self._ended.update(ended)
            known.update(ended)
        fresh = [day for day in wanted if day not in known]
        if fresh:
            end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            known.update(self._sum(store, _midnight(fresh[0]), end, fresh))
        return {day: known[day] for day in wanted}

    @staticmethod
    def _sum(store: Store, start: datetime, end: datetime, days: list[date]) -> dict[date, DaySums]:
        usd: dict[date, dict[str, float]] = {day: defaultdict(float) for day in days}
        tokens: dict[date, dict[str, int]] = {day: defaultdict(int) for day in days}
        for rollup in store.route_stats(start=start, end=end):
            day = rollup.minute.astimezone(UTC).date()
            if day in usd:
                usd[day][rollup.entry_key] += rollup.cost_usd
                tokens[day][rollup.entry_key] += rollup.tokens
        return {
            day: {key: (cost, tokens[day][key]) for key, cost in usd[day].items()} for day in days
        }


DAILY_ROUTE_SPEND = DailyRouteSpend()


@dataclass(frozen=True, slots=True)
class SpendTrend:
    """One budget's spend per day (``usd`` and ``tokens``); the chart's ``values`` are
    in tokens when ``in_tokens`` (the budget has no USD limit), else in USD, and
    ``daily_limit``, a daily budget's limit, in the same unit; ``svg`` draws it."""

    id: str
    budget: str
    days: Sequence[date]
    usd: Sequence[float]
    tokens: Sequence[int]
    in_tokens: bool
    daily_limit: float | None

    @property
    def values(self) -> list[float]:
        return [float(t) for t in self.tokens] if self.in_tokens else list(self.usd)

    def shown(self, value: float) -> str:
        return f"{value:,.0f} tokens" if self.in_tokens else f"${value:,.4f}"

    @property
    def svg(self) -> SafeString:
        values = self.values
        top = max([*values, self.daily_limit or 0.0]) or 1.0
        plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        slot = plot_w / max(len(self.days), 1)

        def y(value: float) -> float:
            return TOP + plot_h - plot_h * value / top

        bars = format_html_join(
            "",
            '<rect class="s-cost" x="{}" y="{}" width="{}" height="{}">'
            "<title>{}: {}</title></rect>",
            (
                (
                    _at(LEFT + slot * i + BAR_GAP / 2),
                    _at(y(value)),
                    _at(max(slot - BAR_GAP, 1)),
                    _at(TOP + plot_h - y(value)),
                    day.isoformat(),
                    self.shown(value),
                )
                for i, (day, value) in enumerate(zip(self.days, values, strict=True))
            ),
        )
        limit = (
            format_html(
                '<line class="s-baseline" x1="{}" x2="{}" y1="{}" y2="{}">'
                "<title>daily limit: {}</title></line>",
                LEFT,
                WIDTH - RIGHT,
                _at(y(self.daily_limit)),
                _at(y(self.daily_limit)),
                self.shown(self.daily_limit),
            )
            if self.daily_limit
            else mark_safe("")
        )
        labels = format_html(
            '<text class="axis" x="{}" y="11">max {}{}</text>'
            '<text class="axis" x="{}" y="{}">{}</text>'
            '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
            LEFT,
            self.shown(max(values, default=0.0)),
            f" · daily limit {self.shown(self.daily_limit)}" if self.daily_limit else "",
            LEFT,
            HEIGHT - 3,
            self.days[0].strftime("%m-%d") if self.days else "",
            WIDTH - RIGHT,
            HEIGHT - 3,
            self.days[-1].strftime("%m-%d") if self.days else "",
        )
        return format_html(
            '<svg class="chart" id="{}" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="{}-title"><title id="{}-title">{}: spend per UTC day, '
            "{} to {}</title>{}{}{}</svg>",
            self.id,
            WIDTH,
            HEIGHT,
            self.id,
            self.id,
            self.budget,
            self.days[0].isoformat() if self.days else "",
            self.days[-1].isoformat() if self.days else "",
            bars,
            limit,
            labels,
        )


def spend_trends(
    store: Store,
    budgets: Sequence[BudgetSettings],
    *,
    now: datetime,
    days: int = TREND_DAYS,
    source: DailyRouteSpend = DAILY_ROUTE_SPEND,
) -> list[SpendTrend]:
    """Each budget's spend per UTC day over the ``days`` up to ``now``, in the budgets'
    order (none without budgets: then the store is not read)."""
    if not budgets:
        return []
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    by_day = source.days(store, first=first, now=now)
    trends = []
    for number, budget in enumerate(budgets, start=1):
        counted = [
            [spend for key, spend in sums.items() if budget.entry is None or key == budget.entry]
            for sums in by_day.values()
        ]
        in_tokens = budget.limit_usd is None
        limit = budget.limit_tokens if in_tokens else budget.limit_usd
        trends.append(
            SpendTrend(
                id=f"trend-{number}",
                budget=budget.name,
                days=list(by_day),
                usd=[sum(usd for usd, _ in day) for day in counted],
                tokens=[sum(tokens for _, tokens in day) for day in counted],
                in_tokens=in_tokens,
                daily_limit=float(limit) if limit and budget.period == "day" else None,
            )
        )
    return trends


def _at(coordinate: float) -> str:
    return f"{coordinate:.1f}"
