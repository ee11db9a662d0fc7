"""``/api/statistics``: usage totals and series from the hourly roll-ups, as the page shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Query, Router, Schema
from pydantic import Field

from ..clock import CLOCK
from ..roles import VIEW
from ..store import get_store
from ..usage import statistics as stats
from ..web.access import AuthedRequest
from .auth import RoleAuth
from .errors import Error, ValidationErrors

router = Router(tags=["statistics"], auth=RoleAuth(VIEW))


class StatisticsIn(Schema):
    """Which range (hourly series for ``24h`` and ``7d``, daily for ``30d``) and which entry."""

    range: Literal["24h", "7d", "30d"] = stats.DEFAULT_RANGE
    entry_key: str | None = Field(None, min_length=1, max_length=500)


class TotalsOut(Schema):
    """Summed counters; ``cache_hit_rate`` is cache reads over all input tokens (null: none).

    What caching wasted, by the cache planner's memory (0 where it keeps none): writes
    that expired without a read (``unread_write_*``, as a share of ``write_cost_usd``)
    and input sent at full price that a recent request had also sent (``missed_read_*``).
    """

    calls: int
    optimized_calls: int
    standard_calls: int
    batched_calls: int
    fallbacks: int
    errors: int
    input_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cost_usd: float
    baseline_cost_usd: float
    savings_usd: float
    unpriced_calls: int
    cache_hit_rate: float | None
    write_cost_usd: float = Field(description="What every cache write cost, read or not")
    unread_write_tokens: int = Field(
        description="Tokens of cache writes found to have expired without ever being read"
    )
    unread_write_cost_usd: float = Field(
        description="What writing those tokens cost, at the write price"
    )
    unread_write_share: float | None = Field(
        description="unread_write_cost_usd over write_cost_usd (null: nothing spent on writes)"
    )
    missed_read_tokens: int = Field(
        description="Input tokens a recent request had also sent that went out without a cache read"
    )
    missed_read_cost_usd: float = Field(
        description="What reading those from the cache would have saved (input price less "
        "read price)"
    )


class PointOut(TotalsOut):
    """One bucket of the series, starting at ``start`` (UTC)."""

    start: datetime


class EntryTotalsOut(TotalsOut):
    """One entry's totals over the range."""

    entry_key: str


class StatisticsOut(Schema):
    """Totals over ``[start, end)``, per entry, and a point per ``bucket`` (empty ones too)."""

    range: str
    bucket: Literal["hour", "day"]
    start: datetime
    end: datetime
    entry_key: str | None
    totals: TotalsOut
    entries: list[EntryTotalsOut]
    series: list[PointOut]


def _totals(totals: stats.Totals) -> dict[str, Any]:
    return {name: getattr(totals, name) for name in TotalsOut.model_fields}


@router.get(
    "",
    response={200: StatisticsOut, 401: Error, 403: Error, 422: ValidationErrors, 503: Error},
    summary="Usage, cost and savings over 24 hours, 7 days or 30 days",
)
def get_statistics(request: AuthedRequest, query: Query[StatisticsIn]) -> StatisticsOut:
    numbers = stats.statistics(
        get_store(), range_name=query.range, now=CLOCK.now(), entry_key=query.entry_key
    )
    return StatisticsOut(
        range=numbers.range,
        bucket="day" if numbers.bucket == stats.DAY else "hour",
        start=numbers.start,
        end=numbers.end,
        entry_key=numbers.entry_key,
        totals=TotalsOut(**_totals(numbers.totals)),
        entries=[EntryTotalsOut(entry_key=k, **_totals(t)) for k, t in numbers.per_entry],
        series=[PointOut(start=p.start, **_totals(p.totals)) for p in numbers.points],
    )
