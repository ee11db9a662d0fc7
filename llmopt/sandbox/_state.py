"""Everything a running sandbox remembers, shared by its handler threads."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

from llmopt.sandbox._batch_store import BatchStore
from llmopt.sandbox._billing import BillingLedger
from llmopt.sandbox._cache import PromptCache
from llmopt.sandbox._clock import wait_on
from llmopt.sandbox._faults import FaultInjector, FaultPlan
from llmopt.sandbox._hold import ResponseHold
from llmopt.sandbox._openai_cache import AutomaticPromptCache
from llmopt.sandbox._options import SandboxOptions
from llmopt.sandbox._skills import Skills


class SandboxState:
    """The prompt caches (Anthropic's ``cache``, OpenAI's ``openai_cache``), billing
    counters, fault plan, response hold and Message Batches of one server.

    Each part is thread-safe on its own; handlers reach them through this object. With
    ``options.data_dir`` the batches and billing counters are loaded from it here.
    ``base_url`` is where clients reach the server (set once it listens).
    """

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.clock = options.clock
        self.cache = PromptCache(options.clock)
        self.openai_cache = AutomaticPromptCache(options.clock)
        self.billing = BillingLedger()
        self.faults = FaultInjector(options.faults, clock=options.clock)
        self.hold = ResponseHold()
        self.skills = Skills()
        self.stopping = threading.Event()
        self.batches = BatchStore(
            clock=options.clock,
            cache=self.cache,
            billing=self.billing,
            faults=self.faults,
            options=options.batches,
            data_dir=options.data_dir,
        )
        self.base_url = f"http://{options.host}:{options.port}"

    def today(self) -> date:
        """The UTC day on the sandbox clock: the day whose prices apply."""
        return datetime.fromtimestamp(self.clock(), UTC).date()

    def pause(self, seconds: float) -> None:
        """Wait ``seconds``: real time, or less if the server stops meanwhile; on a
        ``ManualClock(instant_waits=True)`` the clock moves forward instead."""
        wait_on(self.clock, seconds, self.stopping)

    def reset(self) -> None:
        """Forget the caches, the counters and the batches, and remove every fault rule
        and scripted skill."""
        self.cache.clear()
        self.openai_cache.clear()
        self.billing.clear()
        self.batches.clear()
        self.faults.replace(FaultPlan())
        self.skills.set({})
        self.hold.release()
