"""What the Quality page and ``/api/quality`` show: per entry and model, the answers
scored over the last day (mean score, pass rate, fatal answers, each check's mean, flag
counts) with the entry's mean score per hour; the entry's degradation state now (its
last window against its baseline, as the tracker judges it); recent degradation alerts;
each A/B test's result; and each entry's orchestration strategy.

Everything comes from one read of the per-minute roll-ups (``Store.quality_stats``)
spanning the day and the degradation baseline, plus one per A/B test.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from llmopt.config import AIConfigDocument
from llmopt.errors import ConfigError
from llmopt.orchestration import ORCHESTRATION, OrchestrationSettings
from llmopt.quality import (
    QUALITY,
    ABResult,
    Degradation,
    QualitySettings,
    QualitySummary,
    compare_arms,
    judge_degradation,
    masked_quality,
    window_start,
)
from llmopt.store import QualityAlert, QualityRollup, Store

from .chart import HourlyScore

STATS_HOURS = 24
AB_DAYS = 30
"""How far back an A/B test's answers are counted."""
ALERTS_SHOWN = 20
NOT_RUNNING = (
    "Monitoring is off: no answer is scored, and the A/B tests are not running "
    "(no traffic is drawn into them) until it is turned on."
)


@dataclass(frozen=True, slots=True)
class ModelQuality:
    """One model's scored answers under one entry over the last day."""

    model: str
    summary: QualitySummary


@dataclass(frozen=True, slots=True)
class EntryQuality:
    """One entry: its answers over the last day (all models, and per model), its mean
    score per hour, its degradation state now, and its orchestration strategy (in force;
    ``single`` when the stored object is invalid, which ``orchestration_problems`` says).
    ``in_document`` is false for an entry with scores that was since removed."""

    entry_key: str
    model: str | None
    summary: QualitySummary
    models: tuple[ModelQuality, ...]
    chart: HourlyScore
    degradation: Degradation
    orchestration: OrchestrationSettings
    orchestration_stored: dict[str, Any] | None
    orchestration_problems: tuple[str, ...]
    in_document: bool = True

    @property
    def state(self) -> str:
        """``degraded``, ``ok``, or ``not enough answers`` to judge."""
        if self.degradation.degraded:
            return "degraded"
        if self.degradation.reason.startswith("not enough answers"):
            return "not enough answers"
        return "ok"


@dataclass(frozen=True, slots=True)
class QualityOverview:
    """The page's and the API's whole read model at one revision of the document.

    ``settings`` are those in force (the defaults, monitoring off, when the stored object
    is invalid: ``problems`` says why); ``stored`` is the object as stored with its
    webhook masked (``None``: none)."""

    revision: str | None
    settings: QualitySettings
    stored: Any
    problems: tuple[str, ...]
    entries: list[EntryQuality]
    alerts: list[QualityAlert]
    ab_results: list[ABResult]
    now: datetime
    hours: int = STATS_HOURS
    ab_days: int = AB_DAYS

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    @property
    def not_running(self) -> str:
        """Why nothing is scored and no A/B test runs, or ``""`` while monitoring is on."""
        return "" if self.enabled else NOT_RUNNING

    @property
    def settings_shown(self) -> dict[str, Any]:
        """The settings in force as JSON, webhook masked."""
        shown: dict[str, Any] = masked_quality(self.settings.to_dict())
        return shown

    @property
    def settings_json(self) -> str:
        return json.dumps(self.settings_shown, indent=2)

    @property
    def ab_rows(self) -> list[tuple[ABResult, list[tuple[str, QualitySummary]]]]:
        """Each A/B result with its arms beside their entries, for a table."""
        return [
            (result, list(zip(result.test.entries, result.arms, strict=True)))
            for result in self.ab_results
        ]

    @property
    def scored(self) -> int:
        return sum(entry.summary.count for entry in self.entries)


def quality_settings(document: AIConfigDocument) -> tuple[QualitySettings, tuple[str, ...]]:
    """The document's ``quality`` settings in force and, when invalid, why (then off)."""
    try:
        keys = [entry.key for entry in document.entries]
        return QualitySettings.from_dict(document.body.get(QUALITY), entry_keys=keys), ()
    except ConfigError as exc:
        return QualitySettings(), tuple(problem.message for problem in exc.problems)


def quality_overview(
    store: Store, document: AIConfigDocument, *, now: datetime | None = None
) -> QualityOverview:
    """Read everything the page shows; see the module docstring."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    settings, problems = quality_settings(document)
    rule = settings.degradation
    day_start = now - timedelta(hours=STATS_HOURS)
    recent_start = now - timedelta(minutes=rule.window_minutes)
    baseline_start = recent_start - timedelta(hours=rule.baseline_hours)
    rows = store.quality_stats(start=min(day_start, baseline_start), end=now + timedelta(minutes=1))
    by_entry: dict[str, list[QualityRollup]] = defaultdict(list)
    for row in rows:
        by_entry[row.entry_key].append(row)
    keys = [entry.key for entry in document.entries]
    models = {entry.key: entry.model for entry in document.entries}
    configurations = {entry.key: entry.configuration for entry in document.entries}
    known = set(keys)
    gone = sorted(key for key, entry_rows in by_entry.items() if key not in known and entry_rows)
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=STATS_HOURS - 1)
    hours = [first_hour + timedelta(hours=n) for n in range(STATS_HOURS)]
    entries = []
    for number, key in enumerate([*keys, *gone], start=1):
        entry_rows = by_entry.get(key, [])
        day = [row for row in entry_rows if row.minute >= day_start]
        per_model: dict[str, list[QualityRollup]] = defaultdict(list)
        for row in day:
            per_model[row.model].append(row)
        per_hour: dict[datetime, list[QualityRollup]] = defaultdict(list)
        for row in day:
            per_hour[row.minute.replace(minute=0)].append(row)
        hourly = [QualitySummary.of(per_hour.get(hour, ())) for hour in hours]
        degradation = judge_degradation(
            key,
            [row for row in entry_rows if row.minute >= recent_start],
            [row for row in entry_rows if baseline_start <= row.minute < recent_start],
            rule,
            window_start=window_start(now, rule.window_minutes),
        )
        strategy, stored, strategy_problems = _orchestration(key, configurations.get(key), keys)
        entries.append(
            EntryQuality(
                entry_key=key,
                model=models.get(key),
                summary=QualitySummary.of(day),
                models=tuple(
                    ModelQuality(model, QualitySummary.of(model_rows))
                    for model, model_rows in sorted(per_model.items())
                ),
                chart=HourlyScore(
                    id=f"score-chart-{number}",
                    entry_key=key,
                    hours=hours,
                    means=[summary.mean for summary in hourly],
                    counts=[summary.count for summary in hourly],
                    pass_threshold=settings.pass_threshold,
                ),
                degradation=degradation,
                orchestration=strategy,
                orchestration_stored=stored,
                orchestration_problems=strategy_problems,
                in_document=key in known,
            )
        )
    ab_start = now - timedelta(days=AB_DAYS)
    ab_results = [
        compare_arms(
            test,
            store.quality_stats(start=ab_start, end=now + timedelta(minutes=1), test=test.name),
        )
        for test in settings.ab_tests
    ]
    stored_quality = document.body.get(QUALITY)
    return QualityOverview(
        revision=document.revision,
        settings=settings,
        stored=masked_quality(stored_quality),
        problems=problems,
        entries=entries,
        alerts=store.list_quality_alerts(limit=ALERTS_SHOWN),
        ab_results=ab_results,
        now=now,
    )


def _orchestration(
    key: str, configuration: Mapping[str, Any] | None, keys: list[str]
) -> tuple[OrchestrationSettings, dict[str, Any] | None, tuple[str, ...]]:
    raw = (configuration or {}).get(ORCHESTRATION)
    stored = dict(raw) if isinstance(raw, dict) else None
    try:
        return OrchestrationSettings.from_dict(raw, key=key, entry_keys=keys), stored, ()
    except ConfigError as exc:
        return OrchestrationSettings(), stored, tuple(p.message for p in exc.problems)
