"""The fallback: answering, one call each, on the Messages API (the standard price) the
requests no batch could answer; each answer is stored for reuse like a batch's."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import anthropic

from llmopt.batching._backoff import Pacing
from llmopt.batching._errors import provider_error, retry_after
from llmopt.batching._ledger import Ledger
from llmopt.batching._requests import BatchOutcome, PreparedRequest
from llmopt.batching._results import as_json_dict
from llmopt.batching._tracker import RESULTS_KEPT
from llmopt.errors import StoreError
from llmopt.store import StoredResult

logger = logging.getLogger("llmopt.batching")

_STANDARD_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class StandardFallback:
    """Sends requests to the Messages API, ``attempts`` times at most each, with backoff."""

    client: anthropic.AsyncAnthropic
    ledger: Ledger
    pacing: Pacing
    attempts: int

    async def answer(
        self, requests: list[PreparedRequest], outcomes: dict[int, BatchOutcome]
    ) -> None:
        """Put an outcome (``source="standard"``) for each of ``requests`` into ``outcomes``."""
        if not requests:
            return
        logger.info("sending %d requests to the standard API", len(requests))
        gate = asyncio.Semaphore(_STANDARD_CONCURRENCY)

        async def answer(request: PreparedRequest) -> None:
            async with gate:
                outcomes[request.index] = await self._answer_one(request)

        await asyncio.gather(*(answer(request) for request in requests))

    async def _answer_one(self, request: PreparedRequest) -> BatchOutcome:
        attempt = 0
        while True:
            attempt += 1
            try:
                message = await self._create_message(request.params)
            except anthropic.APIError as exc:
                error = provider_error(exc, doing=f"standard request {request.custom_id}")
                if not error.retryable or attempt >= self.attempts:
                    return BatchOutcome(request.custom_id, None, error, "standard", attempt)
                await self.pacing.pause(attempt - 1, retry_after=retry_after(exc))
                continue
            now = self.ledger.now()
            try:
                await self.ledger.put_results(
                    [
                        StoredResult(
                            fingerprint=request.fingerprint,
                            result=message,
                            created_at=now,
                            expires_at=now + RESULTS_KEPT,
                        )
                    ]
                )
            except StoreError:
                logger.exception("could not store the answer to %s", request.custom_id)
            return BatchOutcome(request.custom_id, message, None, "standard", attempt)

    async def _create_message(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            message = await self.client.messages.create(**params)
        except ValueError as exc:
            # The SDK refuses non-streaming calls that may outlast its timeout (a large
            # max_tokens); batches have no such limit, so stream the same request.
            if "Streaming is required" not in str(exc):
                raise
            async with self.client.messages.stream(**params) as stream:
                message = await stream.get_final_message()
        answer = as_json_dict(message)
        assert answer is not None
        return answer
