r"""A local HTTP server that behaves like the Anthropic Messages API, OpenAI's Chat
Completions API and Ollama's chat API.

No provider API is reachable in tests, benchmarks and the demo, so they run against
this sandbox: the real ``anthropic`` and ``openai`` SDKs, ``ChatAnthropic``,
``ChatOpenAI`` (``base_url=<sandbox>/v1``) and ``ChatOllama`` point at it. Start one
with :class:`SandboxServer` (or ``running_sandbox`` in tests, or ``python -m
llmopt.sandbox --port 8765`` from a shell).

What it reproduces (see ``PROVIDER_FACTS.md``):

- ``POST /v1/messages``, plain and streaming (Anthropic's server-sent events), and
  ``POST /v1/messages/count_tokens``; ``x-api-key`` required; ``request-id`` headers.
- Validation with Anthropic's error envelope and status codes (400, 401, 404 for an
  unknown model, 413, 429, 500, 529), including the ``cache_control`` rules.
- Prompt caching: prefix order tools → system → messages, up to four breakpoints,
  automatic (top-level) caching, 20-block lookback, per-model minimum length, 5 m and
  1 h lifetimes on an injectable clock, writes visible once a response starts.
- Deterministic replies and token counts (``_tokens`` documents the approximation);
  forced tool calls whose input satisfies the tool's JSON schema.
- The Message Batches API (``/v1/messages/batches``: create, retrieve, list, cancel,
  delete, results as JSON lines in a shuffled order), each request run through the
  Messages code above, billed at the batch price, in waves on the sandbox clock
  (:class:`BatchOptions`: instant by default), expiring after 24 h, results kept 29 days.
- Fault injection (:class:`FaultRule`, :class:`FaultPlan`) by configuration, method or
  ``POST /_sandbox/faults``, on any endpoint by ``paths``; batch requests that come back
  ``errored`` or ``expired`` (:class:`BatchItemFault`); billing counters
  (:class:`Billing`) priced with :func:`llmopt.providers.cost_of`, at
  ``GET /_sandbox/billing``, with batch requests also counted apart.
- With ``data_dir`` (``--data-dir``), batches, results and billing survive a restart.
- ``POST /v1/chat/completions`` (OpenAI: plain and streaming, tools, ``response_format``,
  ``usage`` with ``prompt_tokens_details.cached_tokens``, automatic prefix caching from
  1,024 tokens in 128-token steps) and ``POST /api/chat`` + ``GET /api/tags`` (Ollama,
  NDJSON streaming, billed at zero); each API answers errors in its own envelope
  (``docs/provider-facts-openai-ollama.md``).
- Per-model behaviour that routing and failover observe
  (:meth:`SandboxServer.set_model_behaviour`, ``--faults PLAN.json``): lognormal
  latency from a p50 and p95, outage windows, sliding-window rate limits with
  ``retry-after``, slow streams, timeouts that hang; rules match models by glob.
- Scripted skill (:meth:`SandboxServer.set_skills`): a quiz marker,
  ``[quiz <task> answer=<value>]``, is answered right as often as the model's scripted
  accuracy for that task says (``llmopt.sandbox._skills``), for orchestration and
  quality tests.

Tokens are counted by a fixed rule, not Claude's tokenizer: one per word or punctuation
character of text (``\w+|[^\w\s]``), 1,600 per image, tool definitions over their
canonical JSON, 3 per message and 4 per request (the last never cached). Same input,
same count; ``count_tokens`` and ``usage`` always agree.

In a test::

    clock = ManualClock()
    with running_sandbox(clock=clock) as sandbox:
        client = anthropic.Anthropic(base_url=sandbox.base_url, api_key=sandbox.api_key)
        sandbox.add_fault(FaultRule.fail_next(2, "overloaded"))    # two 529s
        sandbox.add_fault(FaultRule.fail_rate(0.2, "rate_limit"))  # 20% 429s, seeded
        ...
        clock.advance(301)                    # 5-minute cache entries expire
        sandbox.billing().total.cost_usd      # what it would have charged

Providers that misbehave, per model::

    sandbox.set_model_behaviour({
        "claude-*": {"outage": {"start": 60, "end": 120}},          # down for a minute
        "gpt-5.4-mini": [{"latency": {"p50_ms": 400, "p95_ms": 1500}},
                         {"rate_limit": {"requests": 5, "per_seconds": 1}}],
    })

Batches that take time, with some requests failing::

    slow = BatchOptions(item_seconds=60, parallelism=10)   # 10 requests a minute
    with running_sandbox(clock=clock, batches=slow, data_dir=tmp_path) as sandbox:
        sandbox.add_batch_fault(BatchItemFault.errored("overloaded_error", rate=0.1))
        sandbox.add_batch_fault(BatchItemFault.expire(marker="never"))  # expire at 24 h
        batch = client.messages.batches.create(requests=[...])
        clock.advance(600)                    # ten waves done
        client.messages.batches.retrieve(batch.id).processing_status
        sandbox.billing().total.batch_requests_succeeded
"""

from __future__ import annotations

from llmopt.sandbox._billing import Billing, ModelBilling
from llmopt.sandbox._clock import Clock, ManualClock
from llmopt.sandbox._faults import BatchItemFault, FaultKind, FaultPlan, FaultRule
from llmopt.sandbox._hold import ResponseHold
from llmopt.sandbox._options import API_KEYS_VARIABLE, BatchOptions, SandboxOptions
from llmopt.sandbox._server import SandboxServer
from llmopt.sandbox.testing import running_sandbox

__all__ = [
    "API_KEYS_VARIABLE",
    "BatchItemFault",
    "BatchOptions",
    "Billing",
    "Clock",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "ManualClock",
    "ModelBilling",
    "ResponseHold",
    "SandboxOptions",
    "SandboxServer",
    "running_sandbox",
]
