"""A local HTTP server that behaves like the Anthropic Messages API.

No real Anthropic API is reachable in tests, benchmarks and the demo, so they run
against this sandbox: the real ``anthropic`` SDK and ``ChatAnthropic`` point at it with
``base_url``. Start one with :class:`SandboxServer` (or ``running_sandbox`` in tests, or
``python -m llmopt.sandbox --port 8765`` from a shell).

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
- Fault injection (:class:`FaultRule`, :class:`FaultPlan`) by configuration, method or
  ``POST /_sandbox/faults``; billing counters (:class:`Billing`) priced with
  :func:`llmopt.providers.cost_of`, at ``GET /_sandbox/billing``.
"""

from __future__ import annotations

from llmopt.sandbox._billing import Billing, ModelBilling
from llmopt.sandbox._clock import Clock, ManualClock
from llmopt.sandbox._faults import FaultKind, FaultPlan, FaultRule
from llmopt.sandbox._hold import ResponseHold
from llmopt.sandbox._options import SandboxOptions
from llmopt.sandbox._server import SandboxServer
from llmopt.sandbox.testing import running_sandbox

__all__ = [
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
