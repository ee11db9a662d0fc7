"""The sandbox server: routes, state and an HTTP server on a background thread."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from llmopt.sandbox import _batches, _control, _messages, _ollama_chat, _openai_chat
from llmopt.sandbox._billing import Billing
from llmopt.sandbox._clock import Clock
from llmopt.sandbox._faults import BatchItemFault, FaultPlan, FaultRule, ModelBehaviour
from llmopt.sandbox._hold import ResponseHold
from llmopt.sandbox._http import SandboxHTTPServer
from llmopt.sandbox._options import SandboxOptions
from llmopt.sandbox._routing import Request, Response, Router
from llmopt.sandbox._state import SandboxState

DEFAULT_API_KEY = "sk-ant-sandbox"


def build_router(options: SandboxOptions | None = None) -> Router:
    """Every endpoint the sandbox serves. New endpoints are added here.

    ``options`` give the size limits that differ by endpoint (default: the defaults).
    """
    options = options or SandboxOptions()
    batch = "/v1/messages/batches/{message_batch_id}"
    router = Router()
    router.add("POST", "/v1/messages", _messages.create_message)
    router.add("POST", "/v1/messages/count_tokens", _messages.count_tokens)
    router.add(
        "POST",
        "/v1/messages/batches",
        _batches.create_batch,
        max_body_bytes=options.batches.max_bytes,
    )
    router.add("GET", "/v1/messages/batches", _batches.list_batches)
    router.add("GET", batch, _batches.retrieve_batch)
    router.add("DELETE", batch, _batches.delete_batch)
    router.add("POST", batch + "/cancel", _batches.cancel_batch)
    router.add("GET", batch + "/results", _batches.batch_results)
    router.add("POST", "/v1/chat/completions", _openai_chat.create_chat_completion)
    router.add("POST", "/api/chat", _ollama_chat.chat)
    router.add("GET", "/api/tags", _ollama_chat.tags)
    router.add("GET", "/_sandbox/health", _control.health)
    router.add("GET", "/_sandbox/billing", _control.billing)
    router.add("POST", "/_sandbox/reset", _control.reset)
    router.add("GET", "/_sandbox/faults", _control.show_faults)
    router.add("POST", "/_sandbox/faults", _control.set_faults)
    router.add("DELETE", "/_sandbox/faults", _control.clear_faults)
    router.add("GET", "/_sandbox/batches", _control.batches)
    router.add("GET", "/_sandbox/skills", _control.show_skills)
    router.add("POST", "/_sandbox/skills", _control.set_skills)
    return router


class SandboxServer:
    """A local HTTP server that behaves like the Anthropic Messages API.

    Point the ``anthropic`` SDK or ``ChatAnthropic`` at it with ``base_url=server.base_url``
    and any non-empty API key (``server.api_key`` always works)::

        with SandboxServer(SandboxOptions(clock=ManualClock())) as server:
            client = anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key)

    ``start`` binds (port 0: a free loopback port) and serves on a daemon thread; ``stop``
    ends it, open connections included. Options come as a :class:`SandboxOptions` or as
    its fields by keyword. Creating one with a ``data_dir`` loads what an earlier server
    left there, and raises ``ValueError`` for a data directory it cannot read. ``start``
    raises ``OSError`` when the port cannot be bound and ``RuntimeError`` when the server
    was started before.
    """

    def __init__(self, options: SandboxOptions | None = None, **fields: Any) -> None:
        if options is None:
            options = SandboxOptions(**fields)
        elif fields:
            options = SandboxOptions.model_validate({**dict(options), **fields})
        self.options = options
        self.state = SandboxState(options)
        self.router = build_router(options)
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._started = False

    def start(self) -> SandboxServer:
        """Bind and serve in the background; returns itself."""
        if self._started:
            raise RuntimeError("a SandboxServer starts only once; create a new one")
        self._started = True
        self._httpd = SandboxHTTPServer(
            (self.options.host, self.options.port), self._dispatch, self._body_limit
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"sandbox-server-{self.port}",
            daemon=True,
        )
        self.state.base_url = self.base_url
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.state.stopping.set()
        self.state.hold.close()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The port listened on. Raises ``RuntimeError`` before ``start``."""
        return int(self._running().server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port``, to pass as the SDK's ``base_url``."""
        return f"http://{self.options.host}:{self.port}"

    @property
    def api_key(self) -> str:
        """An API key the server accepts."""
        keys = self.options.api_keys
        return min(keys) if keys else DEFAULT_API_KEY

    @property
    def clock(self) -> Clock:
        """The clock cache lifetimes are measured on."""
        return self.options.clock

    def billing(self) -> Billing:
        """What the sandbox has billed so far, per model (batches brought up to the clock
        first, so every batch request done by now is counted)."""
        self.state.batches.advance_all()
        return self.state.billing.snapshot()

    def reset(self) -> None:
        """Clear the prompt cache, the billing counters, the batches, the fault rules and
        the scripted skills."""
        self.state.reset()

    def set_faults(self, plan: FaultPlan) -> None:
        """Put ``plan`` in force in place of the current one (its RNG starts over)."""
        self.state.faults.replace(plan)

    def add_fault(self, rule: FaultRule) -> None:
        """Add ``rule`` after the rules in force."""
        self.state.faults.add(rule)

    def set_model_behaviour(
        self, behaviours: Mapping[str, ModelBehaviour], *, seed: int = 0
    ) -> None:
        """Put per-model rules in force in place of the current plan, e.g.
        ``{"gpt-5.4-mini": {"latency": {"p50_ms": 400, "p95_ms": 1500}},
        "claude-*": [{"outage": {"start": 60, "end": 120}}, {"rate_limit": {"requests":
        50, "per_seconds": 60}}]}`` (see :meth:`FaultPlan.for_models`). Raises pydantic's
        ``ValidationError`` for a bad rule."""
        self.set_faults(FaultPlan.for_models(behaviours, seed=seed))

    def set_skills(self, table: Mapping[str, Mapping[str, float]]) -> None:
        """Script how often each model answers each task's quizzes right, e.g.
        ``{"claude-haiku-*": {"arithmetic": 0.6, "*": 0.8}}`` (see
        :mod:`llmopt.sandbox._skills`). Raises ``ValueError`` for an accuracy outside
        0..1."""
        self.state.skills.set(table)

    def add_batch_fault(self, rule: BatchItemFault) -> None:
        """Add ``rule`` after the batch item rules in force (for batches created next)."""
        self.state.faults.add_batch_item(rule)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.state.faults.replace(FaultPlan())

    def batch_calls(self) -> dict[str, int]:
        """How many times each Message Batches endpoint was called, by name (``create``,
        ``retrieve``, ``list``, ``cancel``, ``delete``, ``results``), errors included."""
        return self.state.batches.calls()

    def hold_responses(self) -> ResponseHold:
        """Hold Messages responses at their start until released (use with ``with``)."""
        return self.state.hold.hold()

    def cached_entries(self) -> int:
        """How many prompt-cache entries are alive on the sandbox clock."""
        return self.state.cache.live_entries()

    def _running(self) -> SandboxHTTPServer:
        if self._httpd is None:
            raise RuntimeError("the sandbox server is not running; call start() first")
        return self._httpd

    def _dispatch(self, request: Request) -> Response:
        return self.router.dispatch(request, self.state)

    def _body_limit(self, method: str, path: str) -> int:
        found = self.router.find(method, path)
        if found is not None and found[0].max_body_bytes is not None:
            return found[0].max_body_bytes
        return self.options.max_request_bytes
