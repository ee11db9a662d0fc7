"""The demo's made-up quality scores: the Quality page has a day of scores, a degraded
entry with its alert, and an A/B verdict; written once."""

from __future__ import annotations

import pytest

from console.demo.quality import seed_demo_quality
from console.demo.seed import DEMO_AB_TEST, DEMO_AICONFIGS, DEMO_ENTRY_KEY, DEMO_OTHER_ENTRY_KEY
from console.quality.overview import quality_overview
from llmopt.config import load_document
from llmopt.store import Store

from ..conftest import seed

pytestmark = pytest.mark.django_db


def test_the_demo_quality_data_shows_scores_a_degradation_its_alert_and_an_ab_verdict(
    store: Store,
) -> None:
    seed(store, DEMO_AICONFIGS)
    assert seed_demo_quality(store) is True
    overview = quality_overview(store, load_document(store))
    assert overview.enabled and not overview.problems
    entries = {entry.entry_key: entry for entry in overview.entries}
    assert entries[DEMO_ENTRY_KEY].summary.count > 500
    assert entries[DEMO_ENTRY_KEY].state == "degraded"
    assert entries[DEMO_OTHER_ENTRY_KEY].state == "ok"
    [alert] = overview.alerts
    assert alert.entry_key == DEMO_ENTRY_KEY
    [result] = overview.ab_results
    assert result.test.name == DEMO_AB_TEST and result.winner == DEMO_ENTRY_KEY
    assert seed_demo_quality(store) is False
    assert len(store.list_quality_alerts()) == 1
