"""Circuit breakers, one per llm entry, shared by every process through the store.

How the sharing works:

* **Reads** happen in one background thread per board (one board per store and process:
  :func:`circuit_board_for`), which reads ``store.circuits()`` every ``interval`` seconds
  (1 s), so :meth:`CircuitBoard.allow` answers from memory and never waits on the store.
* **Local decisions act at once.** A process that sees ``failureThreshold`` failures
  within ``windowSeconds`` refuses the entry from that moment; the watcher, woken at
  once, then writes the open circuit with a compare-and-set (``store.swap_circuit``
  with the version it read). Of several processes opening the same circuit only the one
  whose write wins records the ``circuit_opened`` incident; the others adopt the stored
  record. Every other process stops calling the entry within one refresh.
* **Half-open**: after ``retry_at`` the first process that wants the entry (its
  ``allow`` was refused) claims the probe with a compare-and-set (state ``half_open``,
  ``probe_owner`` its process id, a lease until now + ``coolDownSeconds``) and lets
  ``halfOpenMaxCalls`` calls through; every other process keeps refusing. A probe
  success closes the circuit (``circuit_closed``, the recovery), a failure reopens it
  with a new cool-down. A probe that never reports (the process died) is taken over by
  another process when its lease runs out. A refused call in the gap before the claim
  (well under a second: the refusal wakes the watcher) goes to the next entry.
* **Operators** force a circuit open or closed (:meth:`CircuitBoard.force`); a forced
  state overrides the breaker until it is cleared, and is audited.
* **When the store cannot be read or written**, the board logs the reason once and
  decides on its local state alone (opening, probing and closing locally); the
  transitions it took are written, with their incidents, once the store is back. Nothing
  here raises into a model call.

Failures are counted in a sliding window per process (successes do not reset it); only
the classes that count toward a circuit (:attr:`ErrorClass.counts_toward_circuit`) do.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from llmopt.config import check_reason
from llmopt.errors import ConflictError
from llmopt.store import AuditEvent, CircuitRecord, CircuitState, IncidentRecord, Store
from llmopt.store._per_store import PerStore
from llmopt.store._records import utcnow

from ._classify import ErrorClass
from ._settings import CircuitBreakerSettings

logger = logging.getLogger("llmopt.failover")

DEFAULT_INTERVAL = 1.0
ACTION_FORCE = "circuit.force"
ACTION_RELEASE = "circuit.release"
KIND_OPENED = "circuit_opened"
KIND_CLOSED = "circuit_closed"
KIND_FORCED = "circuit_forced"
KIND_FAILOVER = "failover"
_MAX_QUEUED_INCIDENTS = 1_000
_FORCE_ATTEMPTS = 5

ForcedState = Literal["open", "closed"]


@dataclass
class _Circuit:
    """What this process knows of one entry's circuit."""

    view: CircuitRecord
    # ``view`` is a local decision the store has not taken yet; its ``version`` is the
    # stored version it was derived from (the compare-and-set's expected version).
    pending: bool = False
    pending_incidents: list[IncidentRecord] = field(default_factory=list)
    failures: deque[datetime] = field(default_factory=deque)
    probes_left: int = 0
    wanted: bool = False


class CircuitBoard:
    """The circuit breakers of every llm entry, for one store; see the module docstring.

    Use :func:`circuit_board_for` for the process's shared, running board; build one
    directly in tests (``clock`` returns an aware datetime; ``process_id`` names this
    process in the store) and call :meth:`refresh` instead of starting the thread.
    """

    def __init__(
        self,
        store: Store,
        settings: CircuitBreakerSettings | Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        process_id: str | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.store = store
        self._settings = _settings_of(settings)
        self._clock = clock
        self.process_id = process_id or (
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self.interval = interval
        self._circuits: dict[str, _Circuit] = {}
        self._incidents: list[IncidentRecord] = []
        self._problem: str | None = None
        self._lock = threading.RLock()
        self._io_lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- settings and lifecycle ---------------------------------------------------

    @property
    def settings(self) -> CircuitBreakerSettings:
        """The breaker settings in force; assign new ones to change them live."""
        return self._settings

    @settings.setter
    def settings(self, value: CircuitBreakerSettings | Mapping[str, Any] | None) -> None:
        self._settings = _settings_of(value)

    @property
    def store_problem(self) -> str | None:
        """Why the store cannot be used right now (the board decides locally), or ``None``."""
        return self._problem

    def start(self) -> CircuitBoard:
        """Start the watcher thread (idempotent); returns self."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(
                    target=self._run, name="llmopt-circuit-watcher", daemon=True
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the watcher, wait for it, and write what is still pending (best effort)."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, self.interval * 2))
        self.refresh()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.refresh()
            except Exception:  # the watcher must outlive a bug in any one round
                logger.exception("circuit watcher round failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    # -- the hot path: memory only --------------------------------------------------

    def allow(self, entry_key: str) -> bool:
        """Whether a call to ``entry_key`` may go out now (a half-open probe is used up).

        Never does I/O and never raises.
        """
        with self._lock:
            circuit = self._circuits.get(entry_key)
            settled = _settled(circuit)
            if settled is not None:
                return settled
            assert circuit is not None
            view = circuit.view
            mine = view.state is CircuitState.HALF_OPEN and view.probe_owner == self.process_id
            if mine and circuit.probes_left > 0:
                circuit.probes_left -= 1
                return True
            if not self._expired(view):
                return False
            if self._problem is not None:
                # No store to agree with: probe on our own.
                self._local_transition(
                    circuit,
                    self._half_open(view, self._clock()),
                    incident=None,
                )
                circuit.probes_left = self._settings.half_open_max_calls - 1
                return True
            circuit.wanted = True
            self._wake.set()
            return False

    def would_allow(self, entry_key: str) -> bool:
        """Like :meth:`allow`, but uses up nothing (to look, not to call)."""
        with self._lock:
            circuit = self._circuits.get(entry_key)
            settled = _settled(circuit)
            if settled is not None:
                return settled
            assert circuit is not None
            view = circuit.view
            if view.state is CircuitState.HALF_OPEN and view.probe_owner == self.process_id:
                return circuit.probes_left > 0
            return self._expired(view) and self._problem is not None

    def probe_due(self, entry_key: str) -> bool:
        """Whether ``entry_key``'s cool-down is over and no process of ours probes it:
        the next call that asks (:meth:`allow`) gets or claims the probe. A router keeps
        such an entry eligible, or nothing would ever ask and the circuit would never
        close. Never does I/O and never raises."""
        with self._lock:
            circuit = self._circuits.get(entry_key)
            if circuit is None:
                return False
            view = circuit.view
            if view.forced is not None or view.state is CircuitState.CLOSED:
                return False
            if view.state is CircuitState.HALF_OPEN and view.probe_owner == self.process_id:
                return False  # our probe is out; its answer decides
            return self._expired(view)

    def routable(self, entry_key: str) -> bool:
        """:meth:`would_allow` or :meth:`probe_due`, under one lock: whether a router may
        choose ``entry_key`` now (it asks for every candidate of every request)."""
        with self._lock:
            circuit = self._circuits.get(entry_key)
            settled = _settled(circuit)
            if settled is not None:
                return settled
            assert circuit is not None
            view = circuit.view
            if view.state is CircuitState.HALF_OPEN and view.probe_owner == self.process_id:
                return circuit.probes_left > 0
            return self._expired(view)

    def record_success(self, entry_key: str) -> None:
        """A call to ``entry_key`` answered. Closes a half-open circuit this process probes."""
        with self._lock:
            circuit = self._circuits.get(entry_key)
            if circuit is None:
                return
            view = circuit.view
            if view.forced is not None or view.state is not CircuitState.HALF_OPEN:
                return
            if view.probe_owner != self.process_id:
                return
            now = self._clock()
            closed = view.model_copy(
                update={
                    "state": CircuitState.CLOSED,
                    "failures": 0,
                    "opened_at": None,
                    "retry_at": None,
                    "probe_owner": None,
                    "reason": "a probe call answered",
                    "updated_at": now,
                }
            )
            circuit.failures.clear()
            circuit.probes_left = 0
            self._local_transition(
                circuit,
                closed,
                incident=IncidentRecord(
                    at=now,
                    entry_key=entry_key,
                    kind=KIND_CLOSED,
                    detail="recovered: a probe call answered "
                    f"(was open since {_at(view.opened_at)})",
                ),
            )
        logger.info("circuit of %s closed: a probe call answered", entry_key)

    def record_failure(
        self,
        entry_key: str,
        error_class: ErrorClass,
        *,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        """A call to ``entry_key`` failed with ``error_class``. May open its circuit.

        Classes that do not count toward a circuit change nothing (a non-counting
        failure of a probe hands the probe back). ``retry_after`` is the wait the
        provider asked for with a rate limit: a circuit it opens stays open that long
        (at least 1 s, at most ``coolDownSeconds``), because the provider has said when
        it takes calls again and a longer wait only sends traffic to worse entries.
        """
        opened: str | None = None
        with self._lock:
            circuit = self._circuit(entry_key)
            view = circuit.view
            if view.forced is not None:
                return
            now = self._clock()
            probing = view.state is CircuitState.HALF_OPEN and view.probe_owner == self.process_id
            if not error_class.counts_toward_circuit:
                if probing:
                    circuit.probes_left = min(
                        circuit.probes_left + 1, self._settings.half_open_max_calls
                    )
                return
            if probing:
                opened = f"the probe call failed ({error_class}){_colon(detail)}"
                failures = view.failures + 1
            elif view.state is CircuitState.CLOSED:
                window = timedelta(seconds=self._settings.window_seconds)
                circuit.failures.append(now)
                while circuit.failures and circuit.failures[0] <= now - window:
                    circuit.failures.popleft()
                failures = len(circuit.failures)
                if failures >= self._settings.failure_threshold:
                    opened = (
                        f"{failures} failures within {self._settings.window_seconds:g} s, "
                        f"the last {error_class}{_colon(detail)}"
                    )
            else:
                return  # a call let through before the circuit opened
            if opened is None:
                circuit.view = view.model_copy(update={"failures": failures})
                return
            cool_down = self._settings.cool_down_seconds
            if error_class is ErrorClass.RATE_LIMIT and retry_after is not None:
                cool_down = min(cool_down, max(retry_after, 1.0))
                opened += f"; open for the provider's retry-after, {cool_down:g} s"
            circuit.failures.clear()
            circuit.probes_left = 0
            self._local_transition(
                circuit,
                view.model_copy(
                    update={
                        "state": CircuitState.OPEN,
                        "failures": failures,
                        "opened_at": now,
                        "retry_at": now + timedelta(seconds=cool_down),
                        "probe_owner": None,
                        "reason": opened,
                        "updated_at": now,
                    }
                ),
                incident=IncidentRecord(
                    at=now,
                    entry_key=entry_key,
                    kind=KIND_OPENED,
                    error_class=str(error_class),
                    detail=opened,
                ),
            )
        logger.warning("circuit of %s opened: %s", entry_key, opened)

    def status(self, entry_key: str) -> CircuitRecord:
        """The circuit as this process sees it (a fresh closed one when none is known)."""
        with self._lock:
            circuit = self._circuits.get(entry_key)
            return circuit.view if circuit is not None else self._fresh(entry_key)

    def statuses(self) -> dict[str, CircuitRecord]:
        """Every circuit this process knows, by entry key."""
        with self._lock:
            return {key: circuit.view for key, circuit in self._circuits.items()}

    def why_refused(self, entry_key: str) -> str:
        """A sentence saying why :meth:`allow` refuses ``entry_key`` (for errors, logs)."""
        view = self.status(entry_key)
        if view.forced == "open":
            return f"circuit forced open ({view.reason})" if view.reason else "circuit forced open"
        if view.state is CircuitState.HALF_OPEN:
            return "circuit half-open: another call is probing it"
        if view.state is CircuitState.OPEN:
            return f"circuit open until {_at(view.retry_at)}: {view.reason}"
        return "circuit closed"

    def report(self, incident: IncidentRecord) -> None:
        """Queue an incident; the watcher writes it within a refresh. Never raises."""
        with self._lock:
            self._queue_incidents([incident])

    def wait_for(self, predicate: Callable[[CircuitBoard], bool], timeout: float) -> bool:
        """Block until ``predicate(self)`` holds after some refresh (tests, start-up)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout=timeout)

    # -- operators --------------------------------------------------------------------

    def force(
        self, entry_key: str, state: ForcedState | None, *, actor: str, reason: str = ""
    ) -> CircuitRecord:
        """Force ``entry_key``'s circuit open or closed for every process, or clear the
        force (``None``: the breaker decides again, starting closed).

        One audited write (``circuit.force`` / ``circuit.release`` on target
        ``circuit:<entry_key>``) and a ``circuit_forced`` incident. Raises
        :class:`~llmopt.errors.StoreError` when the store cannot be written,
        :class:`~llmopt.errors.ConfigError` for a ``reason`` the free-text rule refuses,
        and :class:`~llmopt.errors.ConflictError` when the circuit keeps changing.
        """
        check_reason(reason)
        if state not in ("open", "closed", None):
            raise ValueError(f"state must be 'open', 'closed' or None, not {state!r}")
        with self._io_lock:
            for _ in range(_FORCE_ATTEMPTS):
                now = self._clock()
                current = self.store.circuits([entry_key]).get(entry_key)
                base = current or self._fresh(entry_key)
                said = f"{'forced ' + state if state else 'force cleared'} by {actor}"
                wanted = base.model_copy(
                    update={
                        "forced": state,
                        "state": CircuitState.OPEN if state == "open" else CircuitState.CLOSED,
                        "failures": 0,
                        "opened_at": now if state == "open" else None,
                        "retry_at": None,
                        "probe_owner": None,
                        "reason": f"{said}: {reason}" if reason else said,
                        "updated_at": now,
                    }
                )
                stored = self.store.swap_circuit(wanted, expected_version=base.version)
                if stored is None:
                    continue
                self.store.record_audit(
                    AuditEvent(
                        actor=actor,
                        action=ACTION_FORCE if state is not None else ACTION_RELEASE,
                        target=f"circuit:{entry_key}",
                        before=None if current is None else current.model_dump(mode="json"),
                        after=stored.model_dump(mode="json"),
                        reason=reason,
                    )
                )
                self.store.add_incidents(
                    [
                        IncidentRecord(
                            at=now, entry_key=entry_key, kind=KIND_FORCED, detail=stored.reason
                        )
                    ]
                )
                with self._changed:
                    circuit = self._circuit(entry_key)
                    circuit.view = stored
                    circuit.pending = False
                    circuit.pending_incidents.clear()
                    circuit.failures.clear()
                    circuit.probes_left = 0
                    circuit.wanted = False
                    self._changed.notify_all()
                logger.warning("circuit of %s %s", entry_key, stored.reason)
                return stored
        raise ConflictError(f"the circuit of {entry_key!r} kept changing under this write")

    # -- the watcher's round ----------------------------------------------------------

    def refresh(self) -> None:
        """One watcher round, now: write pending transitions, read every circuit, claim
        wanted probes, write queued incidents. Never raises."""
        with self._io_lock:
            try:
                self._sync_pending()
                self._read()
                self._claim_probes()
                self._flush_incidents()
            except Exception as exc:  # any store failure: keep deciding locally
                self._store_failed(exc)
            else:
                self._store_back()
        with self._changed:
            self._changed.notify_all()

    def flush(self) -> bool:
        """:meth:`refresh`, then whether everything local reached the store."""
        self.refresh()
        with self._lock:
            return not self._incidents and not any(c.pending for c in self._circuits.values())

    def _sync_pending(self) -> None:
        with self._lock:
            work = [
                (key, circuit.view, len(circuit.pending_incidents))
                for key, circuit in self._circuits.items()
                if circuit.pending
            ]
        for key, view, synced_incidents in work:
            stored = self.store.swap_circuit(view, expected_version=view.version)
            current = None if stored is not None else self.store.circuits([key]).get(key)
            with self._lock:
                circuit = self._circuits[key]
                if stored is not None:
                    self._queue_incidents(circuit.pending_incidents[:synced_incidents])
                    del circuit.pending_incidents[:synced_incidents]
                    if circuit.view is view:
                        circuit.view = stored
                        circuit.pending = False
                    else:  # a newer local decision, taken on top of this one
                        circuit.view = circuit.view.model_copy(update={"version": stored.version})
                    continue
                if circuit.view is not view:
                    continue  # decided again meanwhile; next round
                base = current or self._fresh(key)
                if (
                    view.state is CircuitState.OPEN
                    and base.state is CircuitState.CLOSED
                    and base.forced is None
                    and (view.opened_at is None or base.updated_at <= view.opened_at)
                ):
                    # Our failures are newer than the stored state: open on top of it.
                    circuit.view = view.model_copy(update={"version": base.version})
                    continue
                # Another process decided first (opened it too, probed, forced): its
                # record stands, and the incident is its to record.
                circuit.view = base
                circuit.pending = False
                circuit.pending_incidents.clear()
                circuit.wanted = False
                if base.probe_owner != self.process_id:
                    circuit.probes_left = 0

    def _read(self) -> None:
        records = self.store.circuits()
        with self._lock:
            for key, record in records.items():
                circuit = self._circuits.get(key)
                if circuit is None:
                    circuit = self._circuits[key] = _Circuit(view=record)
                    continue
                if circuit.pending or record.version == circuit.view.version:
                    continue
                self._adopt(circuit, record)
            for key, circuit in self._circuits.items():
                if key not in records and circuit.view.version > 0 and not circuit.pending:
                    self._adopt(circuit, self._fresh(key))

    def _claim_probes(self) -> None:
        with self._lock:
            now = self._clock()
            work = [
                (key, circuit.view)
                for key, circuit in self._circuits.items()
                if circuit.wanted
                and not circuit.pending
                and circuit.view.forced is None
                and circuit.view.state is not CircuitState.CLOSED
                and self._expired(circuit.view, now)
            ]
        for key, view in work:
            claim = self._half_open(view, self._clock())
            stored = self.store.swap_circuit(claim, expected_version=view.version)
            current = stored or self.store.circuits([key]).get(key) or self._fresh(key)
            with self._lock:
                circuit = self._circuits[key]
                circuit.wanted = False
                if circuit.pending:
                    continue
                self._adopt(circuit, current)
                if stored is not None:
                    circuit.probes_left = self._settings.half_open_max_calls
                    logger.info("circuit of %s half-open: this process probes it", key)

    def _flush_incidents(self) -> None:
        with self._lock:
            queued, self._incidents = self._incidents, []
        if not queued:
            return
        try:
            self.store.add_incidents(queued)
        except Exception:
            with self._lock:
                self._incidents[:0] = queued
            raise

    def _store_failed(self, exc: Exception) -> None:
        if self._problem is None:
            logger.warning(
                "circuit store unavailable, deciding on this process's own state until "
                "it is back: %s",
                exc,
            )
        self._problem = f"{type(exc).__name__}: {exc}"

    def _store_back(self) -> None:
        if self._problem is not None:
            logger.info("circuit store available again")
        self._problem = None

    # -- helpers (call with self._lock held) --------------------------------------------

    def _circuit(self, entry_key: str) -> _Circuit:
        circuit = self._circuits.get(entry_key)
        if circuit is None:
            circuit = self._circuits[entry_key] = _Circuit(view=self._fresh(entry_key))
        return circuit

    def _fresh(self, entry_key: str) -> CircuitRecord:
        return CircuitRecord(entry_key=entry_key, updated_at=self._clock())

    def _expired(self, view: CircuitRecord, now: datetime | None = None) -> bool:
        return view.retry_at is None or (now or self._clock()) >= view.retry_at

    def _half_open(self, view: CircuitRecord, now: datetime) -> CircuitRecord:
        return view.model_copy(
            update={
                "state": CircuitState.HALF_OPEN,
                "probe_owner": self.process_id,
                "retry_at": now + timedelta(seconds=self._settings.cool_down_seconds),
                "updated_at": now,
            }
        )

    def _local_transition(
        self, circuit: _Circuit, view: CircuitRecord, *, incident: IncidentRecord | None
    ) -> None:
        circuit.view = view
        circuit.pending = True
        circuit.wanted = False
        if incident is not None:
            circuit.pending_incidents.append(incident)
        self._wake.set()
        self._changed.notify_all()

    def _adopt(self, circuit: _Circuit, record: CircuitRecord) -> None:
        if record.state is CircuitState.CLOSED and circuit.view.state is not CircuitState.CLOSED:
            circuit.failures.clear()
        if record.probe_owner != self.process_id:
            circuit.probes_left = 0
        if record.version != circuit.view.version:
            circuit.wanted = False
        circuit.view = record

    def _queue_incidents(self, incidents: list[IncidentRecord]) -> None:
        self._incidents.extend(incidents)
        overflow = len(self._incidents) - _MAX_QUEUED_INCIDENTS
        if overflow > 0:
            del self._incidents[:overflow]
            logger.warning("dropped %d incidents the store could not take", overflow)


def _settings_of(
    value: CircuitBreakerSettings | Mapping[str, Any] | None,
) -> CircuitBreakerSettings:
    if isinstance(value, CircuitBreakerSettings):
        return value
    return CircuitBreakerSettings.from_dict(value)


def _settled(circuit: _Circuit | None) -> bool | None:
    """Whether calls may go, when the state alone says it (no circuit yet, closed, or
    forced); ``None`` when the cool-down and the probe decide."""
    if circuit is None:
        return True
    view = circuit.view
    if view.forced is not None:
        return view.forced == "closed"
    if view.state is CircuitState.CLOSED:
        return True
    return None


def _colon(detail: str) -> str:
    return f": {detail}" if detail else ""


def _at(when: datetime | None) -> str:
    return "?" if when is None else when.isoformat(timespec="seconds")


_boards: PerStore[CircuitBoard] = PerStore(CircuitBoard)


def circuit_board_for(
    store: Store, settings: CircuitBreakerSettings | Mapping[str, Any] | None = None
) -> CircuitBoard:
    """The process's running board for ``store``, started on first use; ``settings``,
    when given, replace the board's (the document's ``routing.circuitBreaker``)."""
    board = _boards(store).start()
    if settings is not None:
        board.settings = settings
    return board
