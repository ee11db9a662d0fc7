"""DEMO DATA: scored answers for the Quality page, written straight into the store.

The demo's traffic calls its entry through the optimization wrapper, not through the
routed model, so the quality tracker (which scores routed answers) never sees it. So
that the Quality page has something to show, the demo writes a day of made-up
per-minute roll-ups through ``Store.add_quality``: the Anthropic entry scoring about
0.86 until its last 50 minutes drop to about 0.62 (a degradation, alerted through the
real tracker's ``alert_on_degradation``), the OpenAI entry steady at about 0.78, and
both arms of the document's A/B test. Nothing here is a real score; it is written once,
when the store holds no quality roll-ups of the last day.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from llmopt.config import load_document
from llmopt.quality import QUALITY, QualitySettings, QualityTracker
from llmopt.store import QualityRollup, Store

from .seed import DEMO_AB_TEST, DEMO_ENTRY_KEY, DEMO_OTHER_ENTRY_KEY

DEMO_SEED = 16
PASS = 0.7


def _rollup(
    entry_key: str, model: str, minute: datetime, scores: list[float], *, test: str = ""
) -> QualityRollup:
    flags: dict[str, int] = {}
    truncated = sum(score < 0.5 for score in scores)
    if truncated:
        flags["truncated"] = truncated
    return QualityRollup(
        minute=minute,
        entry_key=entry_key,
        model=model,
        test=test,
        count=len(scores),
        score_sum=sum(scores),
        score_sq_sum=sum(score * score for score in scores),
        passed=sum(score >= PASS for score in scores),
        fatal=0,
        check_sums={
            "completeness": sum(1.0 if score >= 0.5 else 0.0 for score in scores),
            "relevance": sum(min(1.0, score + 0.05) for score in scores),
            "safety": float(len(scores)),
        },
        check_counts={"completeness": len(scores), "relevance": len(scores), "safety": len(scores)},
        flags=flags,
    )


def _scores(draw: random.Random, count: int, mean: float) -> list[float]:
    return [min(1.0, max(0.0, draw.gauss(mean, 0.08))) for _ in range(count)]


def demo_quality_rollups(now: datetime) -> list[QualityRollup]:
    """A day of made-up roll-ups up to ``now`` (see the module docstring)."""
    draw = random.Random(DEMO_SEED)
    start = now.replace(second=0, microsecond=0) - timedelta(hours=24)
    rows = []
    minute = start
    while minute <= now:
        degraded = now - minute < timedelta(minutes=50)
        mean = 0.62 if degraded else 0.86
        rows.append(_rollup(DEMO_ENTRY_KEY, "claude-sonnet-4-6", minute, _scores(draw, 4, mean)))
        rows.append(_rollup(DEMO_OTHER_ENTRY_KEY, "gpt-4o-mini", minute, _scores(draw, 4, 0.78)))
        if not degraded:
            rows.append(
                _rollup(
                    DEMO_ENTRY_KEY,
                    "claude-sonnet-4-6",
                    minute,
                    _scores(draw, 1, 0.86),
                    test=DEMO_AB_TEST,
                )
            )
            rows.append(
                _rollup(
                    DEMO_OTHER_ENTRY_KEY,
                    "gpt-4o-mini",
                    minute,
                    _scores(draw, 1, 0.78),
                    test=DEMO_AB_TEST,
                )
            )
        minute += timedelta(minutes=10)
    return rows


def seed_demo_quality(store: Store, *, now: datetime | None = None) -> bool:
    """Write the demo's quality roll-ups and its degradation alert, unless the store has
    roll-ups of the last day already; whether it wrote them."""
    now = now or datetime.now(UTC)
    if store.quality_stats(start=now - timedelta(hours=24), end=now + timedelta(minutes=1)):
        return False
    store.add_quality(demo_quality_rollups(now))
    document = load_document(store)
    settings = QualitySettings.from_dict(document.body.get(QUALITY))
    tracker = QualityTracker(store)
    try:
        tracker.alert_on_degradation(DEMO_ENTRY_KEY, settings=settings, now=now)
    finally:
        tracker.stop()
    return True
