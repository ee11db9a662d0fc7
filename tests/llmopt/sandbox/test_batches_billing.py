from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import anthropic

from llmopt.providers import TokenUsage, cost_of
from llmopt.sandbox import BatchOptions, ManualClock, SandboxServer, running_sandbox

from .conftest import (
    EPHEMERAL,
    MODEL,
    ONE_HOUR,
    batch_item,
    batch_items,
    results_of,
    sdk_client,
    words,
)

DAY = date(2026, 1, 1)  # the ManualClock's day


def usage_of(results: Iterable[Any]) -> TokenUsage:
    """The results' usage added up, as billed (batch price)."""
    total = TokenUsage(input_tokens=0, batch=True)
    for result in results:
        usage = TokenUsage.from_anthropic(result.message.usage)
        total = TokenUsage(
            input_tokens=total.input_tokens + usage.input_tokens,
            cache_write_5m_tokens=total.cache_write_5m_tokens + usage.cache_write_5m_tokens,
            cache_write_1h_tokens=total.cache_write_1h_tokens + usage.cache_write_1h_tokens,
            cache_read_tokens=total.cache_read_tokens + usage.cache_read_tokens,
            output_tokens=total.output_tokens + usage.output_tokens,
            batch=usage.batch,
        )
    return total


def cached_system(ttl: dict[str, Any] = ONE_HOUR) -> list[dict[str, Any]]:
    return [{"type": "text", "text": words(2_000), "cache_control": ttl}]


def test_batch_requests_are_billed_at_half_the_standard_price(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    requests = batch_items(6)
    batch = client.messages.batches.create(requests=requests)
    results = results_of(client, batch.id).values()
    batch_billing = sandbox.billing().models[MODEL]
    for request in requests:
        client.messages.create(**request["params"])
    both = sandbox.billing().models[MODEL]

    billed = usage_of(results)
    expected = cost_of(billed, provider="anthropic", model=MODEL, at=DAY)
    assert billed.batch is True  # usage.service_tier == "batch"
    assert expected is not None
    assert batch_billing.cost_usd == expected.total
    standard_cost = both.cost_usd - batch_billing.cost_usd  # type: ignore[operator]
    assert batch_billing.cost_usd * 2 == standard_cost  # type: ignore[operator]
    assert both.input_tokens == 2 * batch_billing.input_tokens
    assert both.output_tokens == 2 * batch_billing.output_tokens


def test_cache_prices_stack_with_the_batch_discount(clock: ManualClock) -> None:
    options = BatchOptions(parallelism=2)  # the first wave writes, the later ones read
    with (
        running_sandbox(clock=clock, batches=options) as sandbox,
        sdk_client(sandbox.base_url) as client,
    ):
        requests = [batch_item(f"q{i}", f"Question {i}?", system=cached_system()) for i in range(6)]
        batch = client.messages.batches.create(requests=requests)
        results = results_of(client, batch.id)
        billed = sandbox.billing().models[MODEL]

    writes = [r for r in results.values() if r.message.usage.cache_creation_input_tokens]
    reads = [r for r in results.values() if r.message.usage.cache_read_input_tokens]
    assert len(writes) == 2  # identical prompts in one wave all write, as concurrent requests
    assert len(reads) == 4
    assert all(r.message.usage.cache_creation.ephemeral_1h_input_tokens == 2_000 for r in writes)
    assert all(r.message.usage.cache_read_input_tokens == 2_000 for r in reads)
    assert (billed.cache_write_1h_tokens, billed.cache_read_tokens) == (4_000, 8_000)
    # Sonnet 4.6 at $3 per million input tokens, everything halved:
    base = Decimal(3) / 1_000_000 / 2
    usage = usage_of(results.values())
    expected = (
        usage.input_tokens * base
        + 4_000 * base * 2  # 1 h writes: 2x
        + 8_000 * base * Decimal("0.1")  # reads: 0.1x
        + usage.output_tokens * base * 5  # output: $15
    )
    assert billed.cost_usd == expected


def test_a_cache_warmed_by_a_message_serves_every_batch_request(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    client.messages.create(
        model=MODEL,
        max_tokens=5,
        system=cached_system(EPHEMERAL),  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "Warm up"}],
    )
    requests = [
        batch_item(f"q{i}", f"Question {i}?", system=cached_system(EPHEMERAL)) for i in range(5)
    ]

    batch = client.messages.batches.create(requests=requests)
    results = results_of(client, batch.id)

    assert {r.message.usage.cache_read_input_tokens for r in results.values()} == {2_000}


def test_a_cache_hit_ratio_below_one_turns_a_seeded_share_of_hits_into_misses() -> None:
    def reads(seed: int) -> set[str]:
        options = BatchOptions(parallelism=1, cache_hit_ratio=0.5, seed=seed)
        with (
            running_sandbox(clock=ManualClock(), batches=options) as sandbox,
            sdk_client(sandbox.base_url) as client,
        ):
            requests = [batch_item(f"q{i}", f"Q{i}", system=cached_system()) for i in range(40)]
            results = results_of(client, client.messages.batches.create(requests=requests).id)
        return {k for k, r in results.items() if r.message.usage.cache_read_input_tokens}

    first, again, other = reads(1), reads(1), reads(2)

    assert 8 <= len(first) <= 32
    assert first == again
    assert first != other


def test_only_succeeded_requests_are_billed_and_batch_requests_are_counted_apart(
    clock: ManualClock,
) -> None:
    options = BatchOptions(item_seconds=60, parallelism=2)
    with (
        running_sandbox(clock=clock, batches=options) as sandbox,
        sdk_client(sandbox.base_url) as client,
    ):
        requests = [*batch_items(3), batch_item("invalid", max_tokens=0), *batch_items(4, "late")]
        batch = client.messages.batches.create(requests=requests)
        clock.advance(120)  # two waves of two done
        client.messages.batches.cancel(batch.id)
        clock.advance(60)
        ended = client.messages.batches.retrieve(batch.id)
        client.messages.create(**batch_item("direct")["params"])
        billed = sandbox.billing().models[MODEL]

    counts = ended.request_counts
    assert counts.succeeded + counts.errored == 6
    assert counts.canceled == 2
    assert billed.batch_requests_succeeded == counts.succeeded
    assert billed.batch_requests_errored == counts.errored
    assert billed.requests_succeeded == counts.succeeded + 1  # and the direct request
    assert billed.requests_errored == counts.errored


def test_reading_a_batch_again_and_again_bills_nothing_more(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(requests=batch_items(5))
    results_of(client, batch.id)
    once = sandbox.billing()

    for _ in range(3):
        client.messages.batches.retrieve(batch.id)
        list(client.messages.batches.list())
        results_of(client, batch.id)

    assert sandbox.billing() == once
    assert once.models[MODEL].batch_requests_succeeded == 5


def test_billing_counts_a_batch_once_its_requests_are_done_on_the_clock(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    client.messages.batches.create(requests=batch_items(3))

    billed = sandbox.billing().models[MODEL]  # no retrieve: the instant batch is done

    assert billed.batch_requests_succeeded == 3


def test_the_batch_counters_are_in_the_billing_json(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(
        requests=[*batch_items(2), batch_item("bad", max_tokens=0)]
    )
    client.messages.batches.retrieve(batch.id)

    shown = sandbox.billing().to_json()["models"][MODEL]

    assert (shown["batch_requests_succeeded"], shown["batch_requests_errored"]) == (2, 1)
    assert (shown["requests_succeeded"], shown["requests_errored"]) == (2, 1)
