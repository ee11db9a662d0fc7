"""The Quality page: scores per entry and model over the last day (live), degradation
and its alerts, A/B results, the ``quality`` settings and each entry's orchestration
strategy edited with the core's rules and audited, the webhook never in clear, and what
a viewer and an outsider may do."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from llmopt.config import load_document
from llmopt.store import QualityAlert, QualityRollup, Store

from .conftest import AICONFIGS, SECRET, seed

pytestmark = pytest.mark.django_db
URL = "/quality/"
SETTINGS_URL = "/quality/settings/"
STRATEGY_URL = "/quality/orchestration/"
CLAUDE = "anthropic:claude-sonnet-4-6"
OLLAMA = "ollama:llama3.1"
HOOK_SECRET = "XyzHookSecret987"
WEBHOOK = f"https://hooks.example.com/services/T000/{HOOK_SECRET}"
TEST = "claude-vs-llama"
QUALITY = {
    "enabled": True,
    "passThreshold": 0.7,
    "webhook": WEBHOOK,
    "abTests": [{"name": TEST, "entries": [CLAUDE, OLLAMA], "share": 0.2, "minSamples": 5}],
}


def document(quality: dict[str, Any] | None = QUALITY) -> dict[str, Any]:
    body = copy.deepcopy(AICONFIGS)
    if quality is not None:
        body["quality"] = copy.deepcopy(quality)
    return body


def rollup(
    entry: str,
    model: str,
    minute: datetime,
    scores: list[float],
    *,
    test: str = "",
    fatal: int = 0,
    flags: dict[str, int] | None = None,
) -> QualityRollup:
    return QualityRollup(
        minute=minute,
        entry_key=entry,
        model=model,
        test=test,
        count=len(scores),
        score_sum=sum(scores),
        score_sq_sum=sum(s * s for s in scores),
        passed=sum(s >= 0.7 for s in scores),
        fatal=fatal,
        check_sums={"completeness": sum(scores)},
        check_counts={"completeness": len(scores)},
        flags=flags or {},
    )


def scored(store: Store, now: datetime | None = None) -> datetime:
    """Claude: 30 answers scoring 0.9 three hours ago, then 25 scoring 0.6 (2 fatal, 3
    truncated) in the last minutes: degraded. Llama: 5 answers at 0.8. The A/B test, five
    hours ago: Claude's arm 0.85-0.95, Llama's 0.45-0.55 (10 each)."""
    now = now or datetime.now(UTC)
    store.add_quality(
        [
            rollup(CLAUDE, "claude-sonnet-4-6", now - timedelta(hours=3), [0.9] * 30),
            rollup(
                CLAUDE,
                "claude-sonnet-4-6",
                now - timedelta(minutes=5),
                [0.6] * 25,
                fatal=2,
                flags={"truncated": 3},
            ),
            rollup(OLLAMA, "llama3.1", now - timedelta(hours=1, minutes=30), [0.8] * 5),
            rollup(
                CLAUDE,
                "claude-sonnet-4-6",
                now - timedelta(hours=5),
                [0.85, 0.95] * 5,
                test=TEST,
            ),
            rollup(OLLAMA, "llama3.1", now - timedelta(hours=5), [0.45, 0.55] * 5, test=TEST),
        ]
    )
    store.add_quality_alert(
        QualityAlert(
            entry_key=CLAUDE,
            window_start=now - timedelta(minutes=30),
            at=now - timedelta(minutes=2),
            window_mean=0.6,
            baseline_mean=0.9,
            window_count=25,
            baseline_count=40,
            drop=0.1,
            detail="mean score 0.600 over the last 60 min against 0.900: alert detail",
        )
    )
    return now


def settings_form(store: Store, **changes: Any) -> dict[str, Any]:
    data = {
        "revision": load_document(store).revision,
        "enabled": "on",
        "sampleRate": "0.5",
        "passThreshold": "0.7",
        "weights": "",
        "windowMinutes": "60",
        "baselineHours": "24",
        "drop": "0.1",
        "minSamples": "20",
        "webhook": "https://hooks.example.com/services/********",
        "abTests": "[]",
        "reason": "score half",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def strategy_form(store: Store, entry: str = CLAUDE, **changes: Any) -> dict[str, Any]:
    data = {
        "entry": entry,
        "revision": load_document(store).revision,
        "strategy": "cascade",
        "entries": f"{OLLAMA}, {CLAUDE}",
        "threshold": "0.8",
        "method": "majority",
        "judge": "",
        "timeoutSeconds": "",
        "reason": "cheap first",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def row(page: str, marker: str, element: str = "tr") -> str:
    start = page.index(marker)
    return page[start : page.index(f"</{element}>", start)]


def test_a_viewer_sees_scores_per_entry_degradation_alerts_and_the_ab_verdict(
    signed_in: Client, store: Store
) -> None:
    seed(store, document())
    scored(store)
    response = signed_in.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    claude = row(page, f'id="scores-1" data-entry="{CLAUDE}"')
    cells = [cell.split(">")[-1] for cell in claude.split("</td>")[2:6]]
    # 30 + 25 + 10 answers; (27 + 15 + 9) / 65; 40 passed of 65; 2 fatal
    assert cells == ["65", "0.785", "61.5%", "2"]
    assert "truncated 3" in claude and "completeness 0.78" in claude
    assert "score-chart-1" in page and "mean quality score per hour" in page
    degradation = row(page, f'<tr data-entry="{CLAUDE}">', "tr")
    assert "degraded" in degradation and "at least the 0.1 that alerts" in degradation
    assert "alert detail" in row(page, 'id="quality-alerts"', "section")
    ab = row(page, 'id="quality-ab"', "section")
    assert f"{CLAUDE} has the higher mean score" in ab and "significant" in ab
    assert "Monitoring is on" in page
    assert SECRET not in page and HOOK_SECRET not in page


def test_with_monitoring_off_the_page_says_ab_tests_are_not_running(
    signed_in: Client, store: Store
) -> None:
    seed(store, document({**QUALITY, "enabled": False}))
    page = signed_in.get(URL).content.decode()
    assert "A/B tests are not running" in page
    assert "No answer was scored" in page


def test_the_scores_refresh_live_as_their_own_fragment(signed_in: Client, store: Store) -> None:
    seed(store, document())
    page = signed_in.get(URL).content.decode()
    assert 'id="quality-live" hx-get="/quality/"' in page
    assert 'data-poll-hidden="60s"' in page
    scored(store)
    fragment = signed_in.get(URL, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert text.lstrip().startswith('<div id="quality-live"')
    assert "quality-settings-form" not in text and "<html" not in text
    assert ">65</td>" in text
    assert "HX-Request" in fragment["Vary"]


def test_a_viewer_sees_the_settings_masked_but_no_form_to_change_them(
    signed_in: Client, store: Store
) -> None:
    seed(store, document())
    page = signed_in.get(URL).content.decode()
    assert 'id="quality-settings-shown"' in page and "services/********" in page
    assert 'id="strategy-summary"' in page
    assert "quality-settings-form" not in page and "strategy-form" not in page
    assert "needs the operator role" in page


def test_an_operator_saves_the_settings_keeping_the_masked_webhook_audited_masked(
    operator: Client, store: Store
) -> None:
    seed(store, document())
    page = operator.get(URL).content.decode()
    assert HOOK_SECRET not in page and "services/********" in page
    response = operator.post(SETTINGS_URL, settings_form(store))
    assert response.status_code == 302, response.content.decode()[:2000]
    quality = load_document(store).body["quality"]
    assert quality["sampleRate"] == 0.5 and quality["webhook"] == WEBHOOK
    assert quality["degradation"]["minSamples"] == 20 and quality["abTests"] == []
    [event] = store.list_audit(action="quality.update")
    assert (event.actor, event.target, event.reason) == ("operator", "quality", "score half")
    assert HOOK_SECRET not in str(event.before) + str(event.after)
    assert "Saved the quality settings." in operator.get(URL).content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"sampleRate": "2"}, "sampleRate", "less than or equal to 1"),
        ({"drop": "0"}, "drop", "greater than 0"),
        ({"baselineHours": "1", "windowMinutes": "120"}, "baselineHours", "longer than"),
        ({"webhook": "ftp://hooks.example.com/x"}, "webhook", "http:// or https://"),
        ({"weights": '{"vibes": 2}'}, "weights", "no such check"),
        ({"weights": "{oops"}, "weights", "not valid JSON"),
        (
            {"abTests": f'[{{"name": "t", "entries": ["{CLAUDE}", "nobody"], "share": 0.1}}]'},
            "abTests",
            "which is no llm entry",
        ),
        ({"reason": "two\nlines"}, "reason", "Reason"),
    ],
)
def test_an_invalid_setting_is_a_422_beside_its_field_and_nothing_is_written(
    operator: Client, store: Store, changes: dict[str, str], field: str, words: str
) -> None:
    seed(store, document())
    revision = load_document(store).revision
    response = operator.post(SETTINGS_URL, settings_form(store, **changes))
    assert response.status_code == 422
    page = response.content.decode()
    start = page.index(f'class="field invalid" id="field-quality-{field}"')
    assert words in page[start : page.index("</div>\n", page.index('class="error"', start))]
    assert 'id="edit-quality" open' in page
    assert load_document(store).revision == revision
    assert store.list_audit(action="quality.update") == []
    assert HOOK_SECRET not in page


def test_a_masked_webhook_that_masks_nothing_stored_is_refused(
    operator: Client, store: Store
) -> None:
    seed(store, document({"enabled": True}))
    response = operator.post(SETTINGS_URL, settings_form(store))
    assert response.status_code == 422
    assert "enter the whole URL" in response.content.decode()
    assert "webhook" not in load_document(store).body["quality"]


def test_a_stale_revision_is_refused_with_a_409_and_says_to_reload(
    operator: Client, store: Store
) -> None:
    seed(store, document())
    stale = settings_form(store)
    assert operator.post(STRATEGY_URL, strategy_form(store)).status_code == 302
    revision = load_document(store).revision
    response = operator.post(SETTINGS_URL, stale)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert load_document(store).revision == revision
    assert store.list_audit(action="quality.update") == []


def test_an_operator_sets_a_cascade_sending_only_its_fields_and_it_is_audited(
    operator: Client, store: Store
) -> None:
    seed(store, document())
    form = strategy_form(store, method="judge", judge=OLLAMA, timeoutSeconds="30")
    response = operator.post(STRATEGY_URL, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None
    assert configuration["orchestration"] == {
        "strategy": "cascade",
        "entries": [OLLAMA, CLAUDE],
        "threshold": 0.8,
        "timeoutSeconds": 30.0,
    }
    assert configuration["apiKey"] == SECRET  # the rest of the entry is kept
    [event] = store.list_audit(action="orchestration.update")
    assert (event.actor, event.target, event.reason) == (
        "operator",
        f"orchestration:{CLAUDE}",
        "cheap first",
    )
    page = operator.get(URL).content.decode()
    assert f"Saved the orchestration strategy of {CLAUDE}." in page
    assert "cascade" in row(page, 'id="strategy-row-1"')


def test_single_removes_the_strategy(operator: Client, store: Store) -> None:
    seed(store, document())
    assert operator.post(STRATEGY_URL, strategy_form(store)).status_code == 302
    response = operator.post(STRATEGY_URL, strategy_form(store, strategy="single", entries=""))
    assert response.status_code == 302
    configuration = load_document(store).entry(CLAUDE).configuration
    assert configuration is not None and "orchestration" not in configuration


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"entries": CLAUDE}, "entries", "needs 2 to 8 entries"),
        ({"entries": f"{CLAUDE}, nobody"}, "entries", "which is no llm entry"),
        ({"threshold": "1.5"}, "threshold", "less than or equal to 1"),
        ({"strategy": "consensus", "method": "judge"}, "judge", "needs the judge entry"),
        ({"strategy": "telepathy"}, "strategy", "valid choice"),
    ],
)
def test_an_invalid_strategy_is_a_422_beside_its_field_and_nothing_is_written(
    operator: Client, store: Store, changes: dict[str, str], field: str, words: str
) -> None:
    seed(store, document())
    revision = load_document(store).revision
    response = operator.post(STRATEGY_URL, strategy_form(store, **changes))
    assert response.status_code == 422
    page = response.content.decode()
    start = page.index(f'class="field invalid" id="field-s1-{field}"')
    assert words in page[start : page.index("</div>\n", page.index('class="error"', start))]
    assert 'id="strategy-edit-1" open' in page
    assert load_document(store).revision == revision
    assert store.list_audit(action="orchestration.update") == []


def test_a_strategy_for_an_unknown_entry_is_a_404(operator: Client, store: Store) -> None:
    seed(store, document())
    assert operator.post(STRATEGY_URL, strategy_form(store, entry="nobody")).status_code == 404


def test_a_viewer_can_change_neither_settings_nor_strategies(
    signed_in: Client, store: Store
) -> None:
    seed(store, document())
    revision = load_document(store).revision
    assert signed_in.post(SETTINGS_URL, settings_form(store)).status_code == 403
    assert signed_in.post(STRATEGY_URL, strategy_form(store)).status_code == 403
    assert load_document(store).revision == revision


def test_an_outsider_cannot_open_the_page(outsider: Client, store: Store) -> None:
    seed(store, document())
    assert outsider.get(URL).status_code == 403
    assert outsider.post(SETTINGS_URL, settings_form(store)).status_code == 403


def test_the_page_is_in_the_navigation(signed_in: Client, store: Store) -> None:
    seed(store)
    assert '<a href="/quality/">Quality</a>' in signed_in.get("/").content.decode()


def test_the_audit_filter_names_the_cores_quality_and_orchestration_actions() -> None:
    from console.audit import actions
    from llmopt.orchestration import ACTION_UPDATE_ORCHESTRATION
    from llmopt.quality import ACTION_UPDATE_QUALITY

    assert actions.ACTION_UPDATE_QUALITY == ACTION_UPDATE_QUALITY
    assert actions.ACTION_UPDATE_ORCHESTRATION == ACTION_UPDATE_ORCHESTRATION
