"""The router's part of the store contract: circuits, incidents, budgets, decisions and route
statistics. Each test runs against every adapter."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from llmopt.store import (
    BudgetAlert,
    CircuitRecord,
    CircuitState,
    IncidentRecord,
    RouteStatsRollup,
    RoutingDecisionRecord,
    Store,
    latency_bucket,
)

from .conftest import START, Clock

THREADS = 40

# -- circuits --------------------------------------------------------------------


def _circuit(entry_key: str = "anthropic:0", **fields: object) -> CircuitRecord:
    return CircuitRecord.model_validate({"entry_key": entry_key, "updated_at": START, **fields})


def test_a_circuit_never_stored_is_absent(store: Store) -> None:
    assert store.circuits() == {}
    assert store.circuits(["anthropic:0"]) == {}


def test_a_first_swap_stores_the_circuit_as_version_1_and_it_reads_back(store: Store) -> None:
    opened = _circuit(
        state=CircuitState.OPEN,
        failures=5,
        opened_at=START,
        retry_at=START + timedelta(seconds=30),
        reason="5 server errors in a row",
    )

    stored = store.swap_circuit(opened, expected_version=0)

    assert stored == opened.model_copy(update={"version": 1})
    assert store.circuits() == {"anthropic:0": stored}


def test_a_swap_with_the_version_read_replaces_the_circuit_and_bumps_the_version(
    store: Store,
) -> None:
    first = store.swap_circuit(_circuit(state=CircuitState.OPEN), expected_version=0)
    assert first is not None
    probing = first.model_copy(update={"state": CircuitState.HALF_OPEN, "probe_owner": "host:1"})

    second = store.swap_circuit(probing, expected_version=first.version)

    assert second is not None and second.version == 2
    assert store.circuits()["anthropic:0"] == second
    assert second.probe_owner == "host:1" and second.state is CircuitState.HALF_OPEN


@pytest.mark.parametrize("stale", [0, 2])
def test_a_swap_with_a_stale_version_returns_none_and_writes_nothing(
    store: Store, stale: int
) -> None:
    stored = store.swap_circuit(_circuit(state=CircuitState.OPEN), expected_version=0)

    assert store.swap_circuit(_circuit(forced="closed"), expected_version=stale) is None
    assert store.circuits() == {"anthropic:0": stored}


def test_a_swap_of_a_circuit_never_stored_with_a_nonzero_version_writes_nothing(
    store: Store,
) -> None:
    assert store.swap_circuit(_circuit(), expected_version=3) is None
    assert store.circuits() == {}


def test_of_many_processes_opening_the_same_circuit_at_once_exactly_one_wins(
    store: Store,
) -> None:
    closed = store.swap_circuit(_circuit(), expected_version=0)
    assert closed is not None
    barrier = threading.Barrier(THREADS, timeout=30)

    def open_it(n: int) -> bool:
        barrier.wait()
        record = closed.model_copy(update={"state": CircuitState.OPEN, "reason": f"p{n}"})
        return store.swap_circuit(record, expected_version=closed.version) is not None

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(open_it, range(THREADS)))

    assert outcomes.count(True) == 1
    final = store.circuits()["anthropic:0"]
    assert (final.version, final.reason) == (2, f"p{outcomes.index(True)}")


def test_circuits_are_read_for_the_entries_asked_for(store: Store) -> None:
    for entry in ("a", "b", "c"):
        store.swap_circuit(_circuit(entry), expected_version=0)

    assert sorted(store.circuits(["a", "c", "unknown"])) == ["a", "c"]
    assert store.circuits([]) == {}
    assert sorted(store.circuits()) == ["a", "b", "c"]


def test_a_negative_expected_version_is_a_value_error(store: Store) -> None:
    with pytest.raises(ValueError, match="expected_version"):
        store.swap_circuit(_circuit(), expected_version=-1)


# -- incidents -------------------------------------------------------------------


def _incident(
    kind: str, minutes: float = 0, entry_key: str = "e1", **fields: object
) -> IncidentRecord:
    return IncidentRecord.model_validate(
        {"at": START + timedelta(minutes=minutes), "entry_key": entry_key, "kind": kind, **fields}
    )


def test_incidents_read_back_newest_first_with_ids_assigned_by_the_store(store: Store) -> None:
    opened = _incident("circuit_opened", 0, error_class="RateLimited", detail="429 x5")
    failover = _incident("failover", 1, to_entry="e2")
    store.add_incidents([failover, opened])  # any order: recorded in order of time

    listed = store.list_incidents()

    assert [i.kind for i in listed] == ["failover", "circuit_opened"]
    assert all(i.id for i in listed) and listed[0].id != listed[1].id
    assert listed[1].model_copy(update={"id": ""}) == opened
    assert listed[0].to_entry == "e2"


def test_incidents_filter_by_entry_kinds_and_time(store: Store) -> None:
    store.add_incidents(
        [
            _incident("circuit_opened", 0, "e1"),
            _incident("failover", 1, "e1"),
            _incident("circuit_opened", 2, "e2"),
            _incident("circuit_closed", 3, "e1"),
        ]
    )

    def kinds(**filters: object) -> list[tuple[str, str]]:
        return [(i.entry_key, i.kind) for i in store.list_incidents(**filters)]  # type: ignore[arg-type]

    assert kinds(entry_key="e1") == [
        ("e1", "circuit_closed"),
        ("e1", "failover"),
        ("e1", "circuit_opened"),
    ]
    assert kinds(kinds=["circuit_opened"]) == [("e2", "circuit_opened"), ("e1", "circuit_opened")]
    assert kinds(since=START + timedelta(minutes=2)) == [
        ("e1", "circuit_closed"),
        ("e2", "circuit_opened"),
    ]
    assert kinds(entry_key="e1", kinds=["failover", "circuit_closed"], since=START) == [
        ("e1", "circuit_closed"),
        ("e1", "failover"),
    ]
    assert kinds(kinds=[]) == []


def test_incidents_page_with_before_id_without_gaps_or_repeats(store: Store) -> None:
    store.add_incidents(_incident(f"k{n}", n) for n in range(7))

    seen: list[str] = []
    before: str | None = None
    while page := store.list_incidents(limit=3, before_id=before):
        seen.extend(i.kind for i in page)
        before = page[-1].id

    assert seen == [f"k{n}" for n in reversed(range(7))]


def test_incidents_are_counted_by_entry_and_kind_since_a_time(store: Store) -> None:
    store.add_incidents(
        [
            _incident("failover", -10, "e1"),
            _incident("failover", 0, "e1"),
            _incident("failover", 1, "e1"),
            _incident("circuit_opened", 2, "e1"),
            _incident("failover", 3, "e2"),
        ]
    )

    assert store.incident_counts(since=START) == {
        ("e1", "failover"): 2,
        ("e1", "circuit_opened"): 1,
        ("e2", "failover"): 1,
    }
    assert store.incident_counts(since=START, entry_key="e2") == {("e2", "failover"): 1}
    assert store.incident_counts(since=START + timedelta(hours=1)) == {}


def test_adding_no_incidents_changes_nothing_and_a_negative_limit_is_refused(
    store: Store,
) -> None:
    store.add_incidents([])

    assert store.list_incidents() == []
    with pytest.raises(ValueError, match="limit"):
        store.list_incidents(limit=-1)


# -- budget spend ----------------------------------------------------------------

MONTH = START.replace(day=1, hour=0)


def test_a_reservation_under_the_limit_adds_to_the_totals(store: Store, clock: Clock) -> None:
    first = store.reserve_budget(
        "team-a", MONTH, usd=0.25, tokens=1_000, limit_usd=1.0, limit_tokens=None
    )
    clock.advance(seconds=5)
    second = store.reserve_budget(
        "team-a", MONTH, usd=0.5, tokens=2_000, limit_usd=1.0, limit_tokens=10_000
    )

    assert first is not None and (first.usd, first.tokens) == (0.25, 1_000)
    assert second is not None and (second.usd, second.tokens) == (0.75, 3_000)
    assert second.updated_at == START + timedelta(seconds=5)
    assert store.budget_spend([("team-a", MONTH)]) == {("team-a", MONTH): second}


@pytest.mark.parametrize(("limit_usd", "limit_tokens"), [(1.0, None), (None, 3_000), (5.0, 3_000)])
def test_a_reservation_at_or_over_a_limit_is_refused_and_writes_nothing(
    store: Store, limit_usd: float | None, limit_tokens: int | None
) -> None:
    store.charge_budget("team-a", MONTH, usd=1.0, tokens=3_000)
    before = store.budget_spend([("team-a", MONTH)])

    refused = store.reserve_budget(
        "team-a", MONTH, usd=0.01, tokens=1, limit_usd=limit_usd, limit_tokens=limit_tokens
    )

    assert refused is None
    assert store.budget_spend([("team-a", MONTH)]) == before


def test_the_last_reservation_under_the_limit_is_admitted_even_if_it_overshoots(
    store: Store,
) -> None:
    store.charge_budget("team-a", MONTH, usd=0.9, tokens=0)

    admitted = store.reserve_budget(
        "team-a", MONTH, usd=0.5, tokens=0, limit_usd=1.0, limit_tokens=None
    )

    assert admitted is not None and admitted.usd == pytest.approx(1.4)
    assert (
        store.reserve_budget("team-a", MONTH, usd=0.1, tokens=0, limit_usd=1.0, limit_tokens=None)
        is None
    )


def test_many_threads_reserving_against_one_limit_admit_exactly_as_many_as_fit(
    store: Store,
) -> None:
    barrier = threading.Barrier(THREADS, timeout=30)

    def reserve(_: int) -> bool:
        barrier.wait()
        spent = store.reserve_budget(
            "team-a", MONTH, usd=0.25, tokens=100, limit_usd=None, limit_tokens=1_000
        )
        return spent is not None

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        admitted = list(pool.map(reserve, range(THREADS)))

    assert admitted.count(True) == 10
    spend = store.budget_spend([("team-a", MONTH)])[("team-a", MONTH)]
    assert (spend.usd, spend.tokens) == (2.5, 1_000)


def test_charges_add_unconditionally_and_releases_never_go_below_zero(store: Store) -> None:
    store.reserve_budget("team-a", MONTH, usd=0.5, tokens=500, limit_usd=0.1, limit_tokens=None)

    charged = store.charge_budget("team-a", MONTH, usd=0.25, tokens=250)
    released = store.charge_budget("team-a", MONTH, usd=-2.0, tokens=-10_000)
    fresh = store.charge_budget("team-b", MONTH, usd=-1.0, tokens=-1)

    assert (charged.usd, charged.tokens) == (0.75, 750)
    assert (released.usd, released.tokens) == (0.0, 0)
    assert (fresh.usd, fresh.tokens) == (0.0, 0)


def test_budget_spend_is_kept_per_budget_and_period_and_missing_keys_are_absent(
    store: Store,
) -> None:
    next_month = MONTH.replace(month=MONTH.month + 1)
    store.charge_budget("team-a", MONTH, usd=1.0, tokens=10)
    store.charge_budget("team-a", next_month, usd=2.0, tokens=20)
    store.charge_budget("team-b", MONTH, usd=3.0, tokens=30)
    paris = MONTH.astimezone(ZoneInfo("Europe/Paris"))

    spends = store.budget_spend([("team-a", paris), ("team-b", MONTH), ("team-c", MONTH)])

    assert {key: s.usd for key, s in spends.items()} == {
        ("team-a", MONTH): 1.0,
        ("team-b", MONTH): 3.0,
    }
    assert store.budget_spend([]) == {}


def test_a_negative_reservation_is_a_value_error(store: Store) -> None:
    with pytest.raises(ValueError, match="negative"):
        store.reserve_budget("b", MONTH, usd=-1.0, tokens=0, limit_usd=None, limit_tokens=None)


# -- budget alerts ---------------------------------------------------------------


def _alert(threshold: int, minutes: float = 0, budget: str = "team-a") -> BudgetAlert:
    return BudgetAlert(
        budget=budget,
        period_start=MONTH,
        threshold=threshold,
        at=START + timedelta(minutes=minutes),
        usd=threshold / 100,
        tokens=0,
        limit_usd=1.0,
        detail=f"{threshold}% of $1.00",
    )


def test_a_budget_alert_is_recorded_once_per_budget_period_and_threshold(store: Store) -> None:
    assert store.add_budget_alert(_alert(50)) is True
    assert store.add_budget_alert(_alert(50, minutes=5)) is False
    assert store.add_budget_alert(_alert(80, minutes=5)) is True
    assert store.add_budget_alert(_alert(50, budget="team-b")) is True

    assert store.list_budget_alerts(budget="team-a") == [_alert(80, minutes=5), _alert(50)]


def test_of_many_processes_alerting_the_same_threshold_exactly_one_records_it(
    store: Store,
) -> None:
    barrier = threading.Barrier(THREADS, timeout=30)

    def alert(n: int) -> bool:
        barrier.wait()
        return store.add_budget_alert(_alert(100, minutes=n))

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(alert, range(THREADS)))

    assert outcomes.count(True) == 1
    assert len(store.list_budget_alerts()) == 1


def test_budget_alerts_list_newest_first_since_a_time_and_as_many_as_asked(
    store: Store,
) -> None:
    for n, threshold in enumerate((50, 80, 100)):
        store.add_budget_alert(_alert(threshold, minutes=n))

    assert [a.threshold for a in store.list_budget_alerts()] == [100, 80, 50]
    assert [a.threshold for a in store.list_budget_alerts(limit=2)] == [100, 80]
    since = START + timedelta(minutes=1)
    assert [a.threshold for a in store.list_budget_alerts(since=since)] == [100, 80]
    assert store.list_budget_alerts(budget="nobody") == []


# -- routing decisions -----------------------------------------------------------


def _decision(n: int, entry_key: str = "e1", seconds: float | None = None) -> RoutingDecisionRecord:
    return RoutingDecisionRecord(
        at=START + timedelta(seconds=n if seconds is None else seconds),
        entry_key=entry_key,
        reason=f"decision {n}",
        task="summarise",
        request_tokens=1_200,
        fallback_from="e0" if n % 2 else None,
        candidates=[
            {"entry": entry_key, "score": 0.9, "excluded": None},
            {"entry": "e0", "score": None, "excluded": "circuit open"},
        ],
    )


def test_routing_decisions_read_back_newest_first_with_their_candidates(store: Store) -> None:
    store.add_routing_decisions([_decision(0), _decision(1)])

    recent = store.recent_routing_decisions()

    assert [d.reason for d in recent] == ["decision 1", "decision 0"]
    assert all(d.id for d in recent)
    assert recent[0].model_copy(update={"id": ""}) == _decision(1)


def test_only_the_newest_routing_decisions_of_all_entries_are_kept(store: Store) -> None:
    store.add_routing_decisions([_decision(n, f"e{n % 3}") for n in range(8)], keep=5)
    store.add_routing_decisions([_decision(8, "e1")], keep=5)

    kept = store.recent_routing_decisions(limit=100)

    assert [d.reason for d in kept] == [f"decision {n}" for n in (8, 7, 6, 5, 4)]
    assert [d.reason for d in store.recent_routing_decisions(entry_key="e1")] == [
        "decision 8",
        "decision 7",
        "decision 4",
    ]
    assert len(store.recent_routing_decisions(limit=2)) == 2


def test_routing_decisions_of_the_same_instant_list_the_last_recorded_first(
    store: Store,
) -> None:
    store.add_routing_decisions([_decision(n, seconds=0) for n in range(3)])

    assert [d.reason for d in store.recent_routing_decisions()] == [
        "decision 2",
        "decision 1",
        "decision 0",
    ]


def test_routing_decisions_refuse_a_keep_below_one_and_a_negative_limit(store: Store) -> None:
    with pytest.raises(ValueError, match="keep"):
        store.add_routing_decisions([_decision(0)], keep=0)
    with pytest.raises(ValueError, match="limit"):
        store.recent_routing_decisions(limit=-1)
    assert store.recent_routing_decisions() == []


# -- route statistics ------------------------------------------------------------


def _stats(
    minute: int = 0, entry_key: str = "e1", latencies: tuple[float, ...] = (), **fields: object
) -> RouteStatsRollup:
    buckets = [0] * 13
    for latency in latencies:
        buckets[latency_bucket(latency)] += 1
    return RouteStatsRollup.model_validate(
        {
            "minute": START + timedelta(minutes=minute),
            "entry_key": entry_key,
            "calls": len(latencies),
            "latency_ms_sum": sum(latencies),
            "latency_buckets": buckets,
            **fields,
        }
    )


def test_route_stats_of_the_same_minute_and_entry_are_summed_bucket_and_error_wise(
    store: Store,
) -> None:
    store.add_route_stats(
        [_stats(latencies=(8, 300), errors={"RateLimited": 1}, cost_usd=0.01, tokens=100)]
    )
    store.add_route_stats(
        [
            _stats(latencies=(9,), errors={"RateLimited": 2, "Timeout": 1}, cost_usd=0.02),
            _stats(latencies=(70_000,), tokens=50),
        ]
    )

    [total] = store.route_stats(start=START, end=START + timedelta(minutes=1))

    assert total.calls == 4
    assert total.errors == {"RateLimited": 3, "Timeout": 1}
    assert total.latency_buckets == [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert total.latency_ms_sum == 70_317
    assert total.cost_usd == pytest.approx(0.03)
    assert total.tokens == 150


def test_route_stats_are_read_for_a_half_open_range_ordered_by_minute_then_entry(
    store: Store,
) -> None:
    store.add_route_stats(
        [
            _stats(2, "e1", (10,)),
            _stats(1, "e2", (10,)),
            _stats(1, "e1", (10,)),
            _stats(0, "e1", (10,)),
            _stats(3, "e1", (10,)),
        ]
    )

    read = store.route_stats(start=START + timedelta(minutes=1), end=START + timedelta(minutes=3))

    assert [(r.minute, r.entry_key) for r in read] == [
        (START + timedelta(minutes=1), "e1"),
        (START + timedelta(minutes=1), "e2"),
        (START + timedelta(minutes=2), "e1"),
    ]
    assert [
        r.minute
        for r in store.route_stats(start=START, end=START + timedelta(hours=1), entry_key="e2")
    ] == [START + timedelta(minutes=1)]


def test_route_stats_from_many_threads_lose_no_call(store: Store) -> None:
    barrier = threading.Barrier(THREADS, timeout=30)

    def add(n: int) -> None:
        barrier.wait()
        store.add_route_stats([_stats(latencies=(n * 100,), errors={f"E{n % 2}": 1})])

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(add, range(THREADS)))

    [total] = store.route_stats(start=START, end=START + timedelta(minutes=1))
    assert total.calls == THREADS and sum(total.latency_buckets) == THREADS
    assert total.errors == {"E0": THREADS // 2, "E1": THREADS // 2}


def test_adding_no_route_stats_changes_nothing(store: Store) -> None:
    store.add_route_stats([])

    assert store.route_stats(start=START, end=START + timedelta(days=1)) == []


# -- prune -----------------------------------------------------------------------


def test_prune_deletes_old_incidents_route_stats_budget_alerts_and_spend(store: Store) -> None:
    cutoff = START + timedelta(hours=1)
    store.add_incidents([_incident("old", 0), _incident("new", 60)])
    store.add_route_stats([_stats(0, latencies=(1,)), _stats(60, latencies=(1,))])
    store.add_budget_alert(_alert(50, minutes=0))
    store.add_budget_alert(_alert(80, minutes=60))
    store.charge_budget("team-a", START, usd=1.0, tokens=1)
    store.charge_budget("team-a", cutoff, usd=1.0, tokens=1)

    counts = store.prune(
        incidents_before=cutoff,
        route_stats_before=cutoff,
        budget_alerts_before=cutoff,
        budget_spend_before=cutoff,
    )

    assert {k: v for k, v in counts.items() if v} == {
        "incidents": 1,
        "route_stats": 1,
        "budget_alerts": 1,
        "budget_spend": 1,
    }
    assert [i.kind for i in store.list_incidents()] == ["new"]
    assert [r.minute for r in store.route_stats(start=START, end=START + timedelta(days=1))] == [
        cutoff
    ]
    assert [a.threshold for a in store.list_budget_alerts()] == [80]
    assert list(store.budget_spend([("team-a", START), ("team-a", cutoff)])) == [("team-a", cutoff)]


def test_naive_datetimes_in_routing_queries_are_rejected(store: Store) -> None:
    naive = datetime(2025, 3, 1, 12, 0)

    with pytest.raises(ValueError, match="timezone-aware"):
        store.incident_counts(since=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.reserve_budget("b", naive, usd=0, tokens=0, limit_usd=None, limit_tokens=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.route_stats(start=naive, end=naive)
