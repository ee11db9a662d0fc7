from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anthropic
import pytest

from llmopt.providers import TokenUsage, cost_of
from llmopt.sandbox import FaultRule, ManualClock, SandboxServer

from .conftest import EPHEMERAL, MODEL, ONE_HOUR, send, words

CHEAP = "claude-haiku-4-5"


def test_billing_is_the_sum_of_the_usages_and_their_cost(
    sandbox: SandboxServer, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    system: Any = [
        {"type": "text", "text": words(5_000), "cache_control": ONE_HOUR},
        {"type": "text", "text": words(300), "cache_control": EPHEMERAL},
    ]
    usages: dict[str, list[TokenUsage]] = defaultdict(list)
    for model in (MODEL, CHEAP, MODEL, MODEL, CHEAP):
        for question in ("First?", "Second?"):
            message = client.messages.create(
                model=model,
                max_tokens=30,
                system=system,
                messages=[{"role": "user", "content": question}],
            )
            usages[model].append(TokenUsage.from_anthropic(message.usage))
        clock.advance(400)  # the 5-minute entries expire, the 1-hour ones stay

    day = datetime.fromtimestamp(clock(), UTC).date()
    billing = sandbox.billing()
    for model, used in usages.items():
        billed = billing.models[model]
        assert billed.requests_succeeded == len(used)
        assert billed.usage == TokenUsage(
            input_tokens=sum(u.input_tokens for u in used),
            cache_write_5m_tokens=sum(u.cache_write_5m_tokens for u in used),
            cache_write_1h_tokens=sum(u.cache_write_1h_tokens for u in used),
            cache_read_tokens=sum(u.cache_read_tokens for u in used),
            output_tokens=sum(u.output_tokens for u in used),
        )
        costs = [cost_of(u, provider="anthropic", model=model, at=day) for u in used]
        assert billed.cost_usd == sum((c.total for c in costs if c is not None), Decimal(0))
        assert billed.cost_usd > 0
    assert billing.models[MODEL].cache_read_tokens > 0
    assert billing.models[MODEL].cache_write_1h_tokens == 5_000
    assert billing.total.requests_succeeded == 10
    assert billing.total.cost_usd == sum(
        (m.cost_usd for m in billing.models.values() if m.cost_usd is not None), Decimal(0)
    )


def test_errored_requests_are_counted_but_not_billed(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    sandbox.add_fault(FaultRule.fail_next(1, "overloaded"))
    for max_tokens in (10, 0):
        with pytest.raises(anthropic.APIStatusError):
            client.messages.create(
                model=MODEL, max_tokens=max_tokens, messages=[{"role": "user", "content": "Hi"}]
            )
    send(sandbox.base_url, "/v1/messages", {"model": MODEL}, api_key=None)

    billed = sandbox.billing().models[MODEL]

    assert (billed.requests_errored, billed.requests_succeeded) == (3, 0)
    assert billed.usage == TokenUsage(input_tokens=0)
    assert billed.cost_usd == 0


def test_count_tokens_is_free(sandbox: SandboxServer, client: anthropic.Anthropic) -> None:
    client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "Hi"}])

    assert sandbox.billing().models == {}


def test_a_model_without_a_price_is_billed_without_a_cost(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    client.messages.create(
        model="claude-opus-9", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
    )
    client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])

    billing = sandbox.billing()

    assert billing.models["claude-opus-9"].requests_succeeded == 1
    assert billing.models["claude-opus-9"].cost_usd is None
    assert billing.models[MODEL].cost_usd is not None
    assert billing.total.cost_usd is None


def test_billing_over_http_matches_the_snapshot_and_reset_clears_everything(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    system: Any = [{"type": "text", "text": words(2_000), "cache_control": EPHEMERAL}]
    request: Any = {
        "model": MODEL,
        "max_tokens": 10,
        "system": system,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    client.messages.create(**request)
    sandbox.add_fault(FaultRule.fail_when_text_contains("Hi", "overloaded"))

    shown = send(sandbox.base_url, "/_sandbox/billing", method="GET", api_key=None)
    snapshot = sandbox.billing().to_json()
    reset = send(sandbox.base_url, "/_sandbox/reset", api_key=None)
    after = client.messages.create(**request)

    assert shown.status == 200
    assert shown.json() == snapshot
    assert shown.json()["models"][MODEL]["cache_write_5m_tokens"] == 2_000
    assert isinstance(shown.json()["total"]["cost_usd"], str)
    assert reset.status == 200
    assert after.usage.cache_creation_input_tokens == 2_000  # cache cleared, fault gone
    assert sandbox.billing().total.requests_succeeded == 1


def test_hundreds_of_concurrent_requests_are_all_counted(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    system: Any = [{"type": "text", "text": words(1_500), "cache_control": EPHEMERAL}]

    def ask(index: int) -> TokenUsage:
        message = client.messages.create(
            model=MODEL,
            max_tokens=20,
            system=system,
            messages=[{"role": "user", "content": f"Question {index % 7}?"}],
        )
        return TokenUsage.from_anthropic(message.usage)

    warm = ask(0)  # warm the cache before fanning out
    with ThreadPoolExecutor(max_workers=32) as pool:
        usages = list(pool.map(ask, range(300)))

    billed = sandbox.billing().models[MODEL]
    assert billed.requests_succeeded == 301
    assert all(u.cache_read_tokens == 1_500 for u in usages)
    assert billed.cache_read_tokens == 300 * 1_500
    assert billed.output_tokens == warm.output_tokens + sum(u.output_tokens for u in usages)
