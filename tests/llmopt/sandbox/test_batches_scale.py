from __future__ import annotations

import json
from collections import Counter

import anthropic

from llmopt.sandbox import SandboxServer

from .conftest import MODEL

LARGEST = 100_000


def test_a_batch_of_100_000_requests_runs_end_to_end(
    sandbox: SandboxServer, client: anthropic.Anthropic
) -> None:
    # Small params, ten different questions: one prompt over many inputs.
    requests = [
        {
            "custom_id": f"row-{i}",
            "params": {
                "model": MODEL,
                "max_tokens": 8,
                "messages": [{"role": "user", "content": f"Classify ticket kind {i % 10}."}],
            },
        }
        for i in range(LARGEST)
    ]

    batch = client.messages.batches.create(requests=requests)
    ended = client.messages.batches.retrieve(batch.id)
    # The whole file, streamed; each line parsed as JSON (the SDK's typed parse of 100,000
    # messages would take longer than the sandbox does; smaller batches test it).
    with client.messages.batches.with_streaming_response.results(batch.id) as response:
        lines = [json.loads(line) for line in response.iter_lines()]
    billed = sandbox.billing().models[MODEL]

    assert ended.processing_status == "ended"
    assert ended.request_counts.succeeded == LARGEST
    assert len(lines) == LARGEST
    assert {line["custom_id"] for line in lines} == {f"row-{i}" for i in range(LARGEST)}
    assert Counter(line["result"]["type"] for line in lines) == {"succeeded": LARGEST}
    assert len({line["result"]["message"]["id"] for line in lines}) == LARGEST
    assert billed.batch_requests_succeeded == LARGEST
