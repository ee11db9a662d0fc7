"""The contract every store adapter keeps; each test runs against every adapter."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from llmopt.errors import ConflictError, RecordNotFound
from llmopt.store import (
    PLANNER_STATE_KEPT,
    USAGE_COUNTERS,
    AuditEvent,
    BatchRecord,
    BatchStatus,
    DocumentName,
    PlanBreakpoint,
    PlannerState,
    PlanRecord,
    Store,
    StoredResult,
    UsageRollup,
)

from .conftest import START, Clock

AI_CONFIG_BODY: dict[str, Any] = {
    "llm": [
        {
            "provider": "anthropic",
            "isDefault": True,
            "configuration": {
                "model": "claude-sonnet-4-5",
                "apiKey": "sk-secret",
                "optimizationEnabled": True,
                "someFutureFlag": {"nested": [1, 2.5, None, "x"]},
            },
        }
    ],
    "embeddings": [{"provider": "openai", "configuration": {"model": "text-embedding-3"}}],
    "vision": [],
    "updatedBy": "ops",
}


def _event(action: str = "config.update", **overrides: Any) -> AuditEvent:
    fields: dict[str, Any] = {"actor": "alice", "action": action, "target": "ai_config"}
    return AuditEvent(**(fields | overrides))


def _batch(batch_id: str, **overrides: Any) -> BatchRecord:
    fields: dict[str, Any] = {
        "id": batch_id,
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "entry_key": "anthropic:0",
        "created_at": START,
    }
    return BatchRecord(**(fields | overrides))


# -- documents -------------------------------------------------------------------


def test_a_document_that_was_never_written_reads_as_none(store: Store) -> None:
    assert store.read_document(DocumentName.KILL_SWITCH) is None


def test_a_created_document_reads_back_with_the_revision_the_write_returned(
    store: Store,
) -> None:
    written = store.write_document(
        DocumentName.AI_CONFIG, AI_CONFIG_BODY, expected_revision=None, audit=_event()
    )

    read = store.read_document(DocumentName.AI_CONFIG)

    assert read == written
    assert read is not None and read.body == AI_CONFIG_BODY


def test_unknown_fields_and_the_other_lists_of_the_aiconfigs_body_are_kept_verbatim(
    store: Store,
) -> None:
    first = store.write_document(
        DocumentName.AI_CONFIG, AI_CONFIG_BODY, expected_revision=None, audit=_event()
    )
    changed = {**AI_CONFIG_BODY, "llm": [*AI_CONFIG_BODY["llm"], {"provider": "openai"}]}

    store.write_document(
        DocumentName.AI_CONFIG, changed, expected_revision=first.revision, audit=_event()
    )

    read = store.read_document(DocumentName.AI_CONFIG)
    assert read is not None
    assert read.body == changed
    assert read.body["embeddings"] == AI_CONFIG_BODY["embeddings"]
    assert read.body["llm"][0]["configuration"]["someFutureFlag"] == {"nested": [1, 2.5, None, "x"]}


def test_arango_system_attributes_in_a_body_are_not_stored(store: Store) -> None:
    body = {"_key": "elsewhere", "_id": "x/y", "_rev": "123", "enabled": True}

    written = store.write_document(
        DocumentName.KILL_SWITCH, body, expected_revision=None, audit=_event()
    )

    assert written.body == {"enabled": True}
    read = store.read_document(DocumentName.KILL_SWITCH)
    assert read is not None and read.body == {"enabled": True}


def test_replacing_with_the_current_revision_stores_the_body_under_a_new_revision(
    store: Store,
) -> None:
    first = store.write_document(
        DocumentName.KILL_SWITCH, {"engaged": False}, expected_revision=None, audit=_event()
    )

    second = store.write_document(
        DocumentName.KILL_SWITCH,
        {"engaged": True},
        expected_revision=first.revision,
        audit=_event(),
    )

    assert second.revision != first.revision
    assert store.read_document(DocumentName.KILL_SWITCH) == second


def test_creating_a_document_that_exists_is_a_conflict_that_writes_nothing(
    store: Store,
) -> None:
    first = store.write_document(
        DocumentName.MIGRATION, {"step": 1}, expected_revision=None, audit=_event("a")
    )

    with pytest.raises(ConflictError) as raised:
        store.write_document(
            DocumentName.MIGRATION, {"step": 2}, expected_revision=None, audit=_event("b")
        )

    assert raised.value.current_revision == first.revision
    assert store.read_document(DocumentName.MIGRATION) == first
    assert [r.action for r in store.list_audit()] == ["a"]


def test_a_stale_revision_is_a_conflict_that_leaves_document_and_audit_log_unchanged(
    store: Store,
) -> None:
    first = store.write_document(
        DocumentName.AI_CONFIG, AI_CONFIG_BODY, expected_revision=None, audit=_event("create")
    )
    second = store.write_document(
        DocumentName.AI_CONFIG,
        {**AI_CONFIG_BODY, "updatedBy": "bob"},
        expected_revision=first.revision,
        audit=_event("update"),
    )
    audit_before = store.list_audit()

    with pytest.raises(ConflictError) as raised:
        store.write_document(
            DocumentName.AI_CONFIG,
            {"llm": []},
            expected_revision=first.revision,
            audit=_event("stale update"),
        )

    assert raised.value.current_revision == second.revision
    assert store.read_document(DocumentName.AI_CONFIG) == second
    assert store.list_audit() == audit_before


def test_replacing_a_document_that_does_not_exist_is_a_conflict_that_writes_nothing(
    store: Store,
) -> None:
    with pytest.raises(ConflictError):
        store.write_document(
            DocumentName.KILL_SWITCH, {"engaged": True}, expected_revision="1", audit=_event()
        )

    assert store.read_document(DocumentName.KILL_SWITCH) is None
    assert store.list_audit() == []


def test_each_named_document_is_stored_separately(store: Store) -> None:
    for number, name in enumerate(DocumentName):
        store.write_document(name, {"n": number}, expected_revision=None, audit=_event())

    for number, name in enumerate(DocumentName):
        read = store.read_document(name)
        assert read is not None and read.body == {"n": number}


def test_a_document_write_records_its_audit_event_at_the_clock_time(
    store: Store, clock: Clock
) -> None:
    now = clock.advance(minutes=5)
    event = _event(
        "killswitch.engage",
        target="kill_switch",
        before={"engaged": False},
        after={"engaged": True},
        reason="incident 42",
    )

    store.write_document(
        DocumentName.KILL_SWITCH, {"engaged": True}, expected_revision=None, audit=event
    )

    [record] = store.list_audit()
    assert record.model_dump(exclude={"id", "at"}) == event.model_dump()
    assert record.at == now


# -- audit -----------------------------------------------------------------------


def test_record_audit_returns_the_stored_record_with_an_id_and_the_clock_time(
    store: Store, clock: Clock
) -> None:
    event = _event("batch.cancel", target="batch:b1", before=[1, {"a": None}], after="done")

    record = store.record_audit(event)

    assert record.id
    assert record.at == clock()
    assert record.model_dump(exclude={"id", "at"}) == event.model_dump()
    assert store.list_audit() == [record]


def test_the_audit_log_lists_newest_first(store: Store, clock: Clock) -> None:
    for action in ("first", "second", "third"):
        store.record_audit(_event(action))
        clock.advance(seconds=1)

    assert [r.action for r in store.list_audit()] == ["third", "second", "first"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"action": "rollback"}, ["r2", "r1"]),
        ({"actor": "bob"}, ["r2", "u1"]),
        ({"target": "batch:1"}, ["c1"]),
        ({"action": "rollback", "actor": "bob"}, ["r2"]),
        ({"since": START + timedelta(minutes=2)}, ["r2", "u1"]),
        ({"action": "nothing-like-it"}, []),
    ],
)
def test_the_audit_log_filters_by_action_actor_target_and_time(
    store: Store, clock: Clock, filters: dict[str, Any], expected: list[str]
) -> None:
    for reason, action, actor, target in [
        ("r1", "rollback", "alice", "kill_switch"),
        ("c1", "batch.cancel", "alice", "batch:1"),
        ("u1", "config.update", "bob", "ai_config"),
        ("r2", "rollback", "bob", "kill_switch"),
    ]:
        store.record_audit(AuditEvent(actor=actor, action=action, target=target, reason=reason))
        clock.advance(minutes=1)

    assert [r.reason for r in store.list_audit(**filters)] == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"target": "dana"}, ["d2", "d1"]),
        ({"target": "DANA"}, ["d2", "d1"]),
        ({"target": "user dana"}, ["d2", "d1"]),
        ({"actor": "ågot"}, ["d2"]),  # folded beyond ASCII
        ({"actor": "Ops", "target": "token"}, ["t1"]),
        ({"target": "%"}, ["p1"]),  # wildcards are plain text
        ({"target": "_"}, ["p1"]),
        ({"target": "nobody"}, []),
    ],
)
def test_the_audit_log_finds_part_of_an_actor_or_target_in_any_case(
    store: Store, filters: dict[str, Any], expected: list[str]
) -> None:
    for reason, actor, target in [
        ("d1", "admin", "user Dana"),
        ("t1", "ops-bot", "token 7 of robot"),
        ("p1", "admin", "entry 100%_off"),
        ("d2", "ÅGOT", "user dana"),
    ]:
        store.record_audit(AuditEvent(actor=actor, action="x", target=target, reason=reason))

    assert [r.reason for r in store.list_audit(match="contains", **filters)] == expected
    # Exact matching stays the default.
    assert [r.reason for r in store.list_audit(target="user dana")] == ["d2"]


def test_the_audit_log_pages_with_before_id_without_gaps_or_repeats(store: Store) -> None:
    for n in range(25):
        store.record_audit(_event(f"a{n}"))

    pages = []
    before_id = None
    while page := store.list_audit(limit=10, before_id=before_id):
        pages.append([r.action for r in page])
        before_id = page[-1].id

    assert [len(p) for p in pages] == [10, 10, 5]
    assert sum(pages, []) == [f"a{n}" for n in reversed(range(25))]


def test_audit_paging_combines_with_filters(store: Store) -> None:
    for n in range(6):
        store.record_audit(_event("even" if n % 2 == 0 else "odd", reason=str(n)))

    first = store.list_audit(limit=2, action="even")
    second = store.list_audit(limit=2, action="even", before_id=first[-1].id)

    assert [r.reason for r in first + second] == ["4", "2", "0"]


# -- batches ---------------------------------------------------------------------


def test_an_inserted_batch_reads_back_unchanged(store: Store) -> None:
    record = _batch(
        "b/1 with odd:chars",
        provider_batch_id="msgbatch_1",
        status=BatchStatus.IN_PROGRESS,
        request_counts={"processing": 3, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0},
        requests={"req-1": "fp-1", "req-2": "fp-2"},
        submitted_at=START + timedelta(seconds=1, microseconds=5),
        expires_at=START + timedelta(hours=24),
        cost_estimate_usd=0.125,
    )

    store.insert_batch(record)

    assert store.get_batch("b/1 with odd:chars") == record


def test_inserting_a_batch_id_that_exists_is_a_conflict(store: Store) -> None:
    store.insert_batch(_batch("b1"))

    with pytest.raises(ConflictError):
        store.insert_batch(_batch("b1", model="other"))

    assert store.get_batch("b1").model == "claude-sonnet-4-5"


def test_a_batch_whose_requests_an_unfinished_batch_holds_is_not_recorded(
    store: Store,
) -> None:
    store.insert_batch(_batch("running", status=BatchStatus.IN_PROGRESS, requests={"a": "fp1"}))
    store.insert_batch(_batch("ended", status=BatchStatus.ENDED, requests={"a": "fp2"}))
    store.insert_batch(_batch("other entry", entry_key="anthropic:1", requests={"a": "fp3"}))

    held = store.insert_batch_unless_held(
        _batch("new", requests={"x": "fp1", "y": "fp2", "z": "fp3"})
    )

    assert held == {"fp1": "running"}
    with pytest.raises(RecordNotFound):
        store.get_batch("new")
    # An ended batch, or another entry's, holds nothing: these go in.
    assert store.insert_batch_unless_held(_batch("new", requests={"y": "fp2", "z": "fp3"})) == {}
    assert store.get_batch("new").requests == {"y": "fp2", "z": "fp3"}
    with pytest.raises(ConflictError):
        store.insert_batch_unless_held(_batch("new", requests={"w": "fp4"}))


def test_of_two_writers_recording_the_same_request_at_once_one_wins(store: Store) -> None:
    barrier = threading.Barrier(8)

    def record(n: int) -> dict[str, str]:
        barrier.wait()
        return store.insert_batch_unless_held(_batch(f"b{n}", requests={"r": "same"}))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(record, range(8)))

    winners = [n for n, held in enumerate(results) if not held]
    assert len(winners) == 1
    assert all(held == {"same": f"b{winners[0]}"} for held in results if held)


def test_getting_an_unknown_batch_raises_record_not_found(store: Store) -> None:
    with pytest.raises(RecordNotFound):
        store.get_batch("nope")


def test_update_batch_applies_the_changes_and_returns_the_updated_record(store: Store) -> None:
    store.insert_batch(_batch("b1"))
    counts = {"processing": 0, "succeeded": 9, "errored": 1, "canceled": 0, "expired": 0}

    updated = store.update_batch(
        "b1",
        {
            "status": "ended",
            "ended_at": START + timedelta(hours=1),
            "request_counts": counts,
            "error": None,
        },
    )

    assert updated is not None
    assert updated.status is BatchStatus.ENDED
    assert updated.ended_at == START + timedelta(hours=1)
    assert updated.request_counts == counts
    assert store.get_batch("b1") == updated


def test_update_batch_replaces_a_dict_field_whole_instead_of_merging(store: Store) -> None:
    store.insert_batch(_batch("b1", requests={"a": "fp-a", "b": "fp-b"}))

    updated = store.update_batch("b1", {"requests": {"c": "fp-c"}})

    assert updated is not None and updated.requests == {"c": "fp-c"}
    assert store.get_batch("b1").requests == {"c": "fp-c"}


def test_update_batch_with_a_met_expectation_applies_the_changes(store: Store) -> None:
    store.insert_batch(_batch("b1"))

    updated = store.update_batch(
        "b1",
        {"status": BatchStatus.IN_PROGRESS, "provider_batch_id": "msgbatch_1"},
        expect={"status": BatchStatus.PENDING, "provider_batch_id": None},
    )

    assert updated is not None and updated.provider_batch_id == "msgbatch_1"


def test_update_batch_with_an_unmet_expectation_returns_none_and_changes_nothing(
    store: Store,
) -> None:
    store.insert_batch(_batch("b1", status=BatchStatus.IN_PROGRESS))

    result = store.update_batch(
        "b1", {"status": "canceling"}, expect={"status": "pending", "entry_key": "anthropic:0"}
    )

    assert result is None
    assert store.get_batch("b1").status is BatchStatus.IN_PROGRESS


def test_update_batch_compares_datetimes_as_instants(store: Store) -> None:
    store.insert_batch(_batch("b1", last_polled_at=START))
    same_instant = START.astimezone(ZoneInfo("Europe/Berlin"))

    updated = store.update_batch(
        "b1",
        {"last_polled_at": START + timedelta(seconds=30)},
        expect={"last_polled_at": same_instant},
    )

    assert updated is not None and updated.last_polled_at == START + timedelta(seconds=30)


def test_of_two_workers_claiming_the_same_batch_exactly_one_wins(store: Store) -> None:
    store.insert_batch(_batch("b1"))
    barrier = threading.Barrier(2, timeout=10)

    def claim(worker: str) -> BatchRecord | None:
        barrier.wait()
        return store.update_batch(
            "b1", {"status": "in_progress", "error": worker}, expect={"status": "pending"}
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(claim, ["w1", "w2"]))

    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert store.get_batch("b1").error == winners[0].error


def test_updating_an_unknown_batch_raises_record_not_found(store: Store) -> None:
    with pytest.raises(RecordNotFound):
        store.update_batch("nope", {"status": "ended"}, expect={"status": "pending"})


@pytest.mark.parametrize(
    ("changes", "expect"),
    [
        ({"no_such_field": 1}, None),
        ({"id": "b2"}, None),
        ({"status": "exploded"}, None),
        ({"created_at": None}, None),
        ({"request_counts": {"succeeded": "many"}}, None),
        ({"ended_at": datetime(2025, 1, 1)}, None),
        ({"status": "ended"}, {"bogus": 1}),
    ],
)
def test_update_batch_rejects_bad_changes_with_value_error_and_writes_nothing(
    store: Store, changes: dict[str, Any], expect: dict[str, Any] | None
) -> None:
    store.insert_batch(_batch("b1"))

    with pytest.raises(ValueError):
        store.update_batch("b1", changes, expect=expect)

    assert store.get_batch("b1") == _batch("b1")


def test_batches_list_most_recently_created_first(store: Store) -> None:
    for n in (2, 0, 3, 1):
        store.insert_batch(_batch(f"b{n}", created_at=START + timedelta(minutes=n)))

    assert [b.id for b in store.list_batches()] == ["b3", "b2", "b1", "b0"]
    assert [b.id for b in store.list_batches(limit=2, offset=1)] == ["b2", "b1"]


def test_batches_list_filtered_by_status_and_entry(store: Store) -> None:
    specs = [
        ("p1", BatchStatus.PENDING, "e1"),
        ("i1", BatchStatus.IN_PROGRESS, "e1"),
        ("c2", BatchStatus.CANCELING, "e2"),
        ("d1", BatchStatus.ENDED, "e1"),
        ("i2", BatchStatus.IN_PROGRESS, "e2"),
    ]
    for n, (batch_id, status, entry) in enumerate(specs):
        store.insert_batch(
            _batch(batch_id, status=status, entry_key=entry, created_at=START + timedelta(hours=n))
        )

    active = {BatchStatus.IN_PROGRESS, BatchStatus.CANCELING}
    assert [b.id for b in store.list_batches(statuses=active)] == ["i2", "c2", "i1"]
    assert [b.id for b in store.list_batches(entry_key="e1")] == ["d1", "i1", "p1"]
    assert [b.id for b in store.list_batches(statuses=active, entry_key="e1")] == ["i1"]
    assert store.list_batches(statuses=[]) == []


def test_batches_are_counted_with_the_same_filters_as_they_are_listed(store: Store) -> None:
    specs = [("i1", BatchStatus.IN_PROGRESS, "e1"), ("d1", BatchStatus.ENDED, "e1")]
    specs += [("i2", BatchStatus.IN_PROGRESS, "e2")]
    for batch_id, status, entry in specs:
        store.insert_batch(_batch(batch_id, status=status, entry_key=entry))

    assert store.count_batches() == 3
    assert store.count_batches(statuses=[BatchStatus.IN_PROGRESS]) == 2
    assert store.count_batches(entry_key="e1") == 2
    assert store.count_batches(statuses=[BatchStatus.ENDED], entry_key="e2") == 0
    assert store.count_batches(statuses=[]) == 0


def test_batches_listed_without_requests_keep_every_other_field(store: Store) -> None:
    full = _batch(
        "b1",
        status=BatchStatus.IN_PROGRESS,
        provider_batch_id="msgbatch_1",
        request_counts={"processing": 1, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0},
        requests={"r1": "f1", "r2": "f2"},
        cost_estimate_usd=0.25,
    )
    store.insert_batch(full)

    (light,) = store.list_batches(with_requests=False)
    assert light == full.model_copy(update={"requests": {}})
    assert store.list_batches()[0].requests == {"r1": "f1", "r2": "f2"}
    assert store.get_batch("b1") == full


# -- usage -----------------------------------------------------------------------


def _rollup(minute: datetime, entry_key: str = "e1", **counters: Any) -> UsageRollup:
    return UsageRollup(minute=minute, entry_key=entry_key, **counters)


def test_adding_usage_for_the_same_minute_and_entry_sums_every_counter(store: Store) -> None:
    counters = {
        "calls": 3,
        "optimized_calls": 2,
        "batched_calls": 2,
        "fallbacks": 1,
        "errors": 1,
        "input_tokens": 1000,
        "cache_write_tokens": 200,
        "cache_read_tokens": 700,
        "output_tokens": 50,
        "cost_usd": 0.1,
        "baseline_cost_usd": 0.3,
        "unpriced_calls": 1,
        "content_blocks": 9,
        "cached_blocks": 3,
        "estimated_input_tokens": 4000,
        "estimated_cached_tokens": 3000,
        "unread_write_tokens_5m": 1200,
        "unread_write_tokens_1h": 300,
        "missed_read_tokens": 900,
        "write_cost_usd": 0.05,
        "unread_write_cost_usd": 0.02,
        "missed_read_cost_usd": 0.004,
    }
    assert set(counters) == set(USAGE_COUNTERS)
    store.add_usage([_rollup(START + timedelta(seconds=5), **counters)])
    store.add_usage([_rollup(START + timedelta(seconds=50), **counters)])

    [total] = store.usage(start=START, end=START + timedelta(minutes=1))

    assert total.minute == START
    assert total.model_dump(exclude={"minute", "entry_key"}) == {
        k: pytest.approx(2 * v) if isinstance(v, float) else 2 * v for k, v in counters.items()
    }


def test_one_add_usage_call_sums_several_rollups_of_the_same_minute_and_entry(
    store: Store,
) -> None:
    store.add_usage(
        [_rollup(START, calls=1, cost_usd=0.5), _rollup(START, calls=2, cost_usd=0.25)]
        + [_rollup(START, "e2", calls=7)]
    )

    rows = store.usage(start=START, end=START + timedelta(minutes=1))

    assert [(r.entry_key, r.calls, r.cost_usd) for r in rows] == [
        ("e1", 3, pytest.approx(0.75)),
        ("e2", 7, 0.0),
    ]


def test_usage_is_read_for_a_half_open_range_ordered_by_minute_then_entry(store: Store) -> None:
    store.add_usage(
        _rollup(START + timedelta(minutes=m), entry, calls=1)
        for m in (0, 1, 2, 3)
        for entry in ("z-entry", "a-entry")
    )

    rows = store.usage(start=START + timedelta(minutes=1), end=START + timedelta(minutes=3))

    assert [(r.minute - START, r.entry_key) for r in rows] == [
        (timedelta(minutes=1), "a-entry"),
        (timedelta(minutes=1), "z-entry"),
        (timedelta(minutes=2), "a-entry"),
        (timedelta(minutes=2), "z-entry"),
    ]


def test_usage_can_be_read_for_one_entry(store: Store) -> None:
    store.add_usage([_rollup(START, "e1", calls=1), _rollup(START, "e2", calls=2)])

    rows = store.usage(start=START, end=START + timedelta(days=1), entry_key="e2")

    assert [(r.entry_key, r.calls) for r in rows] == [("e2", 2)]


def test_adding_no_usage_changes_nothing(store: Store) -> None:
    store.add_usage([])

    assert store.usage(start=START - timedelta(days=1), end=START + timedelta(days=1)) == []


# -- plans -----------------------------------------------------------------------


def _plan(at: datetime, entry_key: str = "e1", **fields: Any) -> PlanRecord:
    return PlanRecord(entry_key=entry_key, at=at, **fields)


def test_a_recorded_plan_reads_back_with_its_breakpoints_and_decisions(store: Store) -> None:
    plan = _plan(
        START,
        model="claude-sonnet-4-6",
        content_blocks=7,
        estimated_tokens=5_200,
        breakpoints=(
            PlanBreakpoint(
                location="system[0]",
                ttl=3600,
                prefix_tokens=2_048,
                origin="planner",
                reason="the system prompt recurs every 9 minutes: the 1 h lifetime pays",
            ),
            PlanBreakpoint(
                location="messages[3].content[0]",
                ttl=300,
                prefix_tokens=4_100,
                origin="caller",
                reason="kept: the caller's marker",
            ),
        ),
        decisions=("placed 2 breakpoints", "skipped tools: below the minimum (<1,024 tokens)"),
        unread_write_tokens_5m=1_500,
        unread_write_tokens_1h=0,
        missed_read_tokens=800,
    )

    store.add_plans([plan])

    assert store.recent_plans("e1") == [plan]
    assert store.recent_plans("e2") == []


def test_recent_plans_are_the_newest_first_and_as_many_as_asked(store: Store) -> None:
    store.add_plans(_plan(START + timedelta(seconds=n), decisions=(f"plan {n}",)) for n in range(5))

    recent = store.recent_plans("e1", limit=3)

    assert [p.decisions for p in recent] == [("plan 4",), ("plan 3",), ("plan 2",)]
    assert store.recent_plans("e1", limit=0) == []


def test_plans_of_the_same_instant_list_the_last_recorded_first(store: Store) -> None:
    store.add_plans([_plan(START, decisions=("first",))])
    store.add_plans([_plan(START, decisions=("second",))])

    assert [p.decisions for p in store.recent_plans("e1")] == [("second",), ("first",)]


def test_only_the_newest_plans_of_each_entry_are_kept(store: Store) -> None:
    store.add_plans(_plan(START + timedelta(seconds=n), "e2") for n in range(3))
    # Recorded out of order, as several processes' flushes arrive: time decides, not order.
    for n in (9, 2, 7, 0, 5, 1, 8, 3, 6, 4):
        store.add_plans([_plan(START + timedelta(minutes=n))], keep=4)

    kept = store.recent_plans("e1", limit=100)

    assert [p.at - START for p in kept] == [timedelta(minutes=n) for n in (9, 8, 7, 6)]
    assert len(store.recent_plans("e2", limit=100)) == 3  # another entry's are left alone


def test_one_add_plans_call_trims_every_entry_it_names(store: Store) -> None:
    store.add_plans(
        [_plan(START + timedelta(seconds=n), entry) for n in range(6) for entry in ("e1", "e2")],
        keep=2,
    )

    for entry in ("e1", "e2"):
        assert [p.at - START for p in store.recent_plans(entry)] == [
            timedelta(seconds=5),
            timedelta(seconds=4),
        ]


def test_plans_refuse_a_keep_below_one_and_a_negative_limit(store: Store) -> None:
    with pytest.raises(ValueError, match="keep"):
        store.add_plans([_plan(START)], keep=0)
    with pytest.raises(ValueError, match="limit"):
        store.recent_plans("e1", limit=-1)
    assert store.recent_plans("e1") == []


def test_recording_no_plans_changes_nothing(store: Store) -> None:
    store.add_plans([])

    assert store.recent_plans("e1") == []


# -- results ---------------------------------------------------------------------


def _result(fingerprint: str, expires_in: timedelta, **result: Any) -> StoredResult:
    return StoredResult(
        fingerprint=fingerprint,
        result=result or {"content": [{"type": "text", "text": "hi"}]},
        batch_id="b1",
        created_at=START,
        expires_at=START + expires_in,
    )


def test_a_stored_result_is_returned_until_it_expires(store: Store) -> None:
    stored = _result("fp-1", timedelta(hours=1))
    store.put_result(stored)

    assert store.get_result("fp-1", now=START) == stored
    assert store.get_result("fp-1", now=START + timedelta(minutes=59)) == stored
    assert store.get_result("fp-1", now=START + timedelta(hours=1)) is None


def test_putting_a_result_again_replaces_it(store: Store) -> None:
    store.put_result(_result("fp-1", timedelta(hours=1), answer=1))
    newer = _result("fp-1", timedelta(hours=2), answer=2)

    store.put_result(newer)

    assert store.get_result("fp-1", now=START + timedelta(hours=1, minutes=30)) == newer


def test_an_unknown_fingerprint_has_no_result(store: Store) -> None:
    assert store.get_result("fp-unknown", now=START) is None


# -- prune -----------------------------------------------------------------------

_PRUNED_KINDS = (
    "usage",
    "usage_hours",
    "audit",
    "batches",
    "results",
    "incidents",
    "route_stats",
    "budget_alerts",
    "budget_spend",
    "quality",
    "quality_alerts",
)


def test_prune_deletes_the_old_rows_of_each_kind_given_and_counts_them(
    store: Store, clock: Clock
) -> None:
    cutoff = START + timedelta(days=1)
    store.add_usage(_rollup(START + timedelta(hours=h), calls=1) for h in (0, 23, 24, 25))
    for _ in range(3):
        store.record_audit(_event("old"))
    clock.advance(days=1)
    store.record_audit(_event("new"))
    store.insert_batch(_batch("ended-old", status="ended", ended_at=START + timedelta(hours=2)))
    store.insert_batch(_batch("failed-old", status="failed"))
    store.insert_batch(_batch("ended-new", status="ended", ended_at=cutoff))
    store.insert_batch(_batch("in-flight-old", status="in_progress", ended_at=START))
    store.put_result(_result("expired", timedelta(hours=1)))
    store.put_result(_result("expires-at-cutoff", timedelta(days=1)))
    store.put_result(_result("fresh", timedelta(days=2)))
    store.fold_usage(through=START + timedelta(days=2))

    counts = store.prune(
        usage_before=cutoff,
        usage_hours_before=START + timedelta(hours=1),
        audit_before=cutoff,
        batches_ended_before=cutoff,
        results_expired_by=cutoff,
    )

    assert counts == {
        **dict.fromkeys(_PRUNED_KINDS, 0),
        "usage": 2,
        "usage_hours": 1,
        "audit": 3,
        "batches": 2,
        "results": 2,
    }
    assert [r.minute for r in store.usage(start=START, end=START + timedelta(days=2))] == [
        cutoff,
        cutoff + timedelta(hours=1),
    ]
    assert [r.action for r in store.list_audit()] == ["new"]
    assert {b.id for b in store.list_batches()} == {"ended-new", "in-flight-old"}
    assert store.get_result("fresh", now=cutoff) is not None


def test_prune_deletes_only_the_kinds_it_is_given_a_cutoff_for(store: Store) -> None:
    store.add_usage([_rollup(START, calls=1)])
    store.record_audit(_event())
    far_future = START + timedelta(days=3650)

    counts = store.prune(audit_before=far_future)

    assert counts == {**dict.fromkeys(_PRUNED_KINDS, 0), "audit": 1}
    assert len(store.usage(start=START, end=far_future)) == 1


def test_prune_without_cutoffs_deletes_nothing(store: Store) -> None:
    store.record_audit(_event())

    assert store.prune() == dict.fromkeys(_PRUNED_KINDS, 0)
    assert len(store.list_audit()) == 1


# -- planner states ----------------------------------------------------------------


def _state(process: str, at: datetime, entry_key: str = "e1", **body: Any) -> PlannerState:
    exported = {
        "probe": 1,
        "counts": {"static": [3.0, 1.0]},
        "prefixes": [[7, 1.0, 2.0, 300.0, 0.5, -1.0, 0]],
    }
    return PlannerState(
        entry_key=entry_key, process=process, updated_at=at, body={**exported, **body}
    )


def test_each_process_state_replaces_its_last_and_reads_back_verbatim(store: Store) -> None:
    store.put_planner_states([_state("host:1", START), _state("host:2", START)])
    store.put_planner_states([_state("host:1", START + timedelta(seconds=5), counts={})])

    states = store.planner_states(["e1"], since=START)

    assert [(s.process, s.updated_at) for s in states] == [
        ("host:1", START + timedelta(seconds=5)),
        ("host:2", START),
    ]
    assert states[0].body["counts"] == {} and states[1].body["prefixes"] == [
        [7, 1.0, 2.0, 300.0, 0.5, -1.0, 0]
    ]


def test_planner_states_are_read_per_entry_and_since_a_time(store: Store) -> None:
    store.put_planner_states(
        [
            _state("p", START, "e1"),
            _state("p", START + timedelta(minutes=10), "e2"),
            _state("q", START + timedelta(minutes=10), "e3"),
        ]
    )

    recent = store.planner_states(["e1", "e2"], since=START + timedelta(minutes=1))

    assert [(s.entry_key, s.process) for s in recent] == [("e2", "p")]
    assert store.planner_states([], since=START) == []


def test_states_of_processes_that_stopped_long_ago_are_dropped(store: Store) -> None:
    store.put_planner_states([_state("gone", START)])
    later = START + PLANNER_STATE_KEPT + timedelta(minutes=1)
    store.put_planner_states([_state("alive", later)])

    assert [s.process for s in store.planner_states(["e1"], since=START)] == ["alive"]


# -- health ----------------------------------------------------------------------


def test_ping_returns_quietly_when_the_store_is_reachable(store: Store) -> None:
    store.ping()


def test_naive_datetimes_in_queries_are_rejected(store: Store) -> None:
    naive = datetime(2025, 3, 1, 12, 0)

    with pytest.raises(ValueError, match="timezone-aware"):
        store.usage(start=naive, end=naive)
