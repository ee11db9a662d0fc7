"""``/api/quality``: scored answers per entry and model, degradation, alerts, A/B
results and each entry's strategy; saving the ``quality`` settings and an entry's
orchestration strategy. Webhooks are masked in every response."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ninja import Router, Schema

from llmopt.config import load_document
from llmopt.killswitch import read_kill_switch
from llmopt.store import Store

from ..roles import EDIT, VIEW
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth, actor
from .errors import READ_ERRORS, Conflict, Error, ValidationErrors
from .strict import InputSchema, Reason

if TYPE_CHECKING:
    from llmopt.quality import QualitySummary

    from ..quality.overview import EntryQuality

# llmopt.quality and llmopt.orchestration load LangChain: imported on the first call, so
# the console starts without it.

router = Router(tags=["quality"], auth=RoleAuth(VIEW))


class SummaryOut(Schema):
    """Scored answers: how many, their mean score (``null``: none), the share that
    passed, how many failed a fatal check, each check's mean, and answers per flag."""

    count: int
    mean: float | None
    passRate: float | None
    fatal: int
    checks: dict[str, float]
    flags: dict[str, int]


class ModelQualityOut(Schema):
    model: str
    summary: SummaryOut


class HourOut(Schema):
    """One hour (its start, UTC): answers scored and their mean score."""

    hour: str
    count: int
    mean: float | None


class DegradationOut(Schema):
    """The entry's last window against its baseline, as the tracker judges it now."""

    state: str
    degraded: bool
    reason: str
    windowStart: str
    window: SummaryOut
    baseline: SummaryOut


class EntryQualityOut(Schema):
    """One entry over the last ``hours``: all its models, each model, its mean score per
    hour, degradation now, and its ``orchestration`` in force (``stored``: as stored,
    ``null`` for none; ``problems``: why the stored one is not used)."""

    entryKey: str
    model: str | None
    inDocument: bool
    summary: SummaryOut
    models: list[ModelQualityOut]
    hourly: list[HourOut]
    degradation: DegradationOut
    orchestration: dict[str, Any]
    orchestrationStored: dict[str, Any] | None
    orchestrationProblems: list[str]


class AlertOut(Schema):
    entryKey: str
    model: str
    windowStart: str
    at: str
    windowMean: float
    baselineMean: float
    windowCount: int
    baselineCount: int
    drop: float
    detail: str


class QualityOut(Schema):
    """Quality at one revision of the configuration. ``settings``: in force, webhook
    masked (the defaults, off, when the stored object is invalid: ``problems``);
    ``quality``: as stored, webhook masked (``null``: none). ``notRunning`` says why
    nothing is scored and no A/B test runs (``null`` while monitoring is on)."""

    revision: str | None
    killSwitchEngaged: bool
    enabled: bool
    notRunning: str | None
    hours: int
    abDays: int
    settings: dict[str, Any]
    quality: Any
    problems: list[str]
    entries: list[EntryQualityOut]
    alerts: list[AlertOut]
    abTests: list[dict[str, Any]]


class QualityIn(InputSchema):
    """The document's whole ``quality`` object, the revision it was read at, and why.
    Checked by the core (``QualitySettings``): each problem answers 422 beside
    ``quality.<field>``, and nothing is written. A masked ``webhook`` sent back as read
    keeps the stored one."""

    quality: dict[str, Any]
    revision: str
    reason: Reason = ""


class OrchestrationIn(InputSchema):
    """An entry's whole ``orchestration`` object (``strategy`` and only the fields it
    uses: ``entries``, ``threshold``, ``method``, ``judge``, ``timeoutSeconds``), the
    revision it was read at, and why. ``{"strategy": "single"}`` removes it. Checked by
    the core (``OrchestrationSettings``): 422 beside ``orchestration.<field>``."""

    orchestration: dict[str, Any]
    revision: str
    reason: Reason = ""


def _summary(summary: QualitySummary) -> SummaryOut:
    return SummaryOut(**summary.to_dict())


def _entry_out(entry: EntryQuality) -> EntryQualityOut:
    verdict = entry.degradation
    chart = entry.chart
    return EntryQualityOut(
        entryKey=entry.entry_key,
        model=entry.model,
        inDocument=entry.in_document,
        summary=_summary(entry.summary),
        models=[ModelQualityOut(model=m.model, summary=_summary(m.summary)) for m in entry.models],
        hourly=[
            HourOut(hour=hour.isoformat(), count=count, mean=mean)
            for hour, mean, count in zip(chart.hours, chart.means, chart.counts, strict=True)
        ],
        degradation=DegradationOut(
            state=entry.state,
            degraded=verdict.degraded,
            reason=verdict.reason,
            windowStart=verdict.window_start.isoformat(),
            window=_summary(verdict.window),
            baseline=_summary(verdict.baseline),
        ),
        orchestration=entry.orchestration.to_dict(),
        orchestrationStored=entry.orchestration_stored,
        orchestrationProblems=list(entry.orchestration_problems),
    )


def _quality_out(store: Store) -> QualityOut:
    from ..quality.overview import quality_overview

    overview = quality_overview(store, load_document(store))
    return QualityOut(
        revision=overview.revision,
        killSwitchEngaged=read_kill_switch(store).engaged,
        enabled=overview.enabled,
        notRunning=overview.not_running or None,
        hours=overview.hours,
        abDays=overview.ab_days,
        settings=overview.settings_shown,
        quality=overview.stored,
        problems=list(overview.problems),
        entries=[_entry_out(entry) for entry in overview.entries],
        alerts=[
            AlertOut(
                entryKey=alert.entry_key,
                model=alert.model,
                windowStart=alert.window_start.isoformat(),
                at=alert.at.isoformat(),
                windowMean=alert.window_mean,
                baselineMean=alert.baseline_mean,
                windowCount=alert.window_count,
                baselineCount=alert.baseline_count,
                drop=alert.drop,
                detail=alert.detail,
            )
            for alert in overview.alerts
        ],
        abTests=[{**r.to_dict(), "enabled": r.test.enabled} for r in overview.ab_results],
    )


@router.get("", response={200: QualityOut, **READ_ERRORS}, summary="Answer quality")
def get_quality(request: AuthedRequest) -> QualityOut:
    return _quality_out(get_store())


@router.put(
    "",
    auth=RoleAuth(EDIT),
    response={200: QualityOut, 409: Conflict, 422: ValidationErrors, **READ_ERRORS},
    summary="Save the quality settings",
)
def put_quality(request: AuthedRequest, payload: QualityIn) -> QualityOut:
    """Validated by the core (422, nothing written), refused when stale (409), audited
    as ``quality.update`` with the webhook masked. The rest of the document is kept."""
    from llmopt.quality import update_quality

    store = get_store()
    update_quality(
        store,
        payload.quality,
        expected_revision=payload.revision,
        actor=actor(request),
        reason=payload.reason,
    )
    return _quality_out(store)


@router.put(
    "/orchestration/{key}",
    auth=RoleAuth(EDIT),
    response={200: QualityOut, 404: Error, 409: Conflict, 422: ValidationErrors, **READ_ERRORS},
    summary="Save an entry's orchestration strategy",
)
def put_orchestration(request: AuthedRequest, key: str, payload: OrchestrationIn) -> QualityOut:
    """Validated by the core (422, nothing written), refused when stale (409), audited
    as ``orchestration.update`` (target ``orchestration:<key>``); 404 for a ``key``
    that is no entry. The rest of the entry and of the document is kept."""
    from llmopt.orchestration import update_orchestration

    store = get_store()
    update_orchestration(
        store,
        key,
        payload.orchestration,
        expected_revision=payload.revision,
        actor=actor(request),
        reason=payload.reason,
    )
    return _quality_out(store)
