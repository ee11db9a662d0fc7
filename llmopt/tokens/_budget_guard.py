"""Budgets enforced before calls and charged after them, through the shared store."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from llmopt.errors import BudgetExceeded
from llmopt.store import BudgetAlert, BudgetSpend, Store
from llmopt.tokens._budget_settings import BudgetSettings
from llmopt.tokens._webhook import WebhookSender, masked_webhook

logger = logging.getLogger("llmopt.tokens")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC start of the ``day``/``month`` holding ``now``, and the next one's."""
    now = now.astimezone(UTC)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        following = start.fromordinal(start.toordinal() + 1).replace(tzinfo=UTC)
        return start, following
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start, start.replace(year=year, month=month)


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one admission reserved from one budget's period."""

    budget: BudgetSettings
    period_start: datetime
    usd: float
    tokens: int


@dataclass(frozen=True, slots=True)
class Admission:
    """A call let through: what it reserved, and the ``route_cheaper`` budgets at their
    limit (the router should pick a cheaper entry; empty when none). Hand it to
    :meth:`BudgetGuard.settle` after the call or :meth:`BudgetGuard.release` when it
    failed without usage."""

    entry_key: str
    reservations: tuple[Reservation, ...]
    route_cheaper: tuple[str, ...] = ()
    alerting: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget's spend in its current period, for the console."""

    name: str
    entry: str | None
    period: str
    period_start: datetime
    resets_at: datetime
    usd: float
    tokens: int
    limit_usd: float | None
    limit_tokens: int | None
    at_limit: str

    @property
    def percent(self) -> float:
        """The larger of the USD and token shares of their limits, in percent."""
        return _percent((self.limit_usd, self.limit_tokens), self.usd, self.tokens)


def _percent(limits: tuple[float | None, int | None], usd: float, tokens: int) -> float:
    limit_usd, limit_tokens = limits
    shares = [0.0]
    if limit_usd:
        shares.append(usd / limit_usd * 100)
    if limit_tokens:
        shares.append(tokens / limit_tokens * 100)
    return max(shares)


class BudgetGuard:
    """Keeps calls within their budgets, shared by every process through ``store``.

    Before a call, :meth:`admit` reserves its estimated cost from every budget that
    applies (the entry's own and the overall ones) with the store's atomic
    ``reserve_budget``, so a limit is overshot by at most the calls already in flight.
    At a limit, ``refuse`` raises :class:`~llmopt.errors.BudgetExceeded` (releasing what
    was reserved), ``route_cheaper`` admits and says so, ``alert`` admits. After the
    call, :meth:`settle` charges what it really cost instead of the estimate and records
    each threshold crossed (50/80/100% by default) once across processes, POSTing it to
    the budget's webhook in the background. ``clock`` gives the time (UTC periods);
    ``webhook`` sends the POSTs (a :class:`WebhookSender` by default). Thread-safe.
    Store failures raise :class:`~llmopt.errors.StoreError`.
    """

    def __init__(
        self,
        store: Store,
        budgets: Sequence[BudgetSettings],
        *,
        clock: Callable[[], datetime] = _utcnow,
        webhook: WebhookSender | None = None,
    ) -> None:
        self._store = store
        self._budgets = tuple(budgets)
        self._clock = clock
        self._webhook = webhook if webhook is not None else WebhookSender()
        self._alerted: set[tuple[str, datetime, int]] = set()
        self._lock = threading.Lock()

    @property
    def budgets(self) -> tuple[BudgetSettings, ...]:
        return self._budgets

    def applying_to(self, entry_key: str) -> list[BudgetSettings]:
        """The budgets a call of ``entry_key`` counts against."""
        return [b for b in self._budgets if b.entry is None or b.entry == entry_key]

    def admit(self, entry_key: str, *, usd: float | Decimal | None, tokens: int) -> Admission:
        """Reserve a call's estimate (``usd``: ``None`` when its price is unknown) from
        every budget of ``entry_key``; raises ``BudgetExceeded`` when a ``refuse`` budget
        is at or over its limit (nothing stays reserved then)."""
        amount = float(usd or 0)
        now = self._clock()
        made: list[Reservation] = []
        cheaper: list[str] = []
        alerting: list[str] = []
        # Refusing budgets first: a refusal then releases as little as possible.
        ordered = sorted(self.applying_to(entry_key), key=lambda b: b.at_limit != "refuse")
        for budget in ordered:
            start, resets = period_bounds(budget.period, now)
            spend = self._store.reserve_budget(
                budget.name,
                start,
                usd=amount,
                tokens=tokens,
                limit_usd=budget.limit_usd,
                limit_tokens=budget.limit_tokens,
            )
            if spend is None:
                if budget.at_limit == "refuse":
                    self._release(made)
                    raise self._exceeded(budget, start, resets)
                # Over the limit but let through: the call still spends.
                self._store.charge_budget(budget.name, start, usd=amount, tokens=tokens)
                (cheaper if budget.at_limit == "route_cheaper" else alerting).append(budget.name)
            made.append(Reservation(budget, start, amount, tokens))
        return Admission(entry_key, tuple(made), tuple(cheaper), tuple(alerting))

    def settle(self, admission: Admission, *, usd: float | Decimal | None, tokens: int) -> None:
        """Charge what the call really cost (``usd`` priced from the provider's reported
        usage, ``None`` when unknown; ``tokens`` input + output) in place of its
        reservation, and alert on the thresholds it crossed."""
        amount = float(usd or 0)
        for reservation in admission.reservations:
            spend = self._store.charge_budget(
                reservation.budget.name,
                reservation.period_start,
                usd=amount - reservation.usd,
                tokens=tokens - reservation.tokens,
            )
            self._check_thresholds(reservation.budget, spend)

    def release(self, admission: Admission) -> None:
        """Give back the reservations of a call that failed before using anything."""
        self._release(admission.reservations)

    def spend(self) -> list[BudgetStatus]:
        """Every budget's spend in its current period, in the budgets' order."""
        now = self._clock()
        bounds = {b.name: period_bounds(b.period, now) for b in self._budgets}
        stored = self._store.budget_spend((b.name, bounds[b.name][0]) for b in self._budgets)
        statuses: list[BudgetStatus] = []
        for budget in self._budgets:
            start, resets = bounds[budget.name]
            spent = stored.get((budget.name, start))
            statuses.append(
                BudgetStatus(
                    budget.name,
                    budget.entry,
                    budget.period,
                    start,
                    resets,
                    spent.usd if spent else 0.0,
                    spent.tokens if spent else 0,
                    budget.limit_usd,
                    budget.limit_tokens,
                    budget.at_limit,
                )
            )
        return statuses

    def close(self) -> None:
        """Send the alerts still queued and stop the webhook thread."""
        self._webhook.close()

    def _release(self, reservations: Iterable[Reservation]) -> None:
        for r in reservations:
            self._store.charge_budget(r.budget.name, r.period_start, usd=-r.usd, tokens=-r.tokens)

    def _exceeded(
        self, budget: BudgetSettings, start: datetime, resets: datetime
    ) -> BudgetExceeded:
        spent = self._store.budget_spend([(budget.name, start)]).get((budget.name, start))
        usd, tokens = (spent.usd, spent.tokens) if spent else (0.0, 0)
        limits = []
        if budget.limit_usd is not None:
            limits.append(f"${usd:,.2f} of ${budget.limit_usd:,.2f}")
        if budget.limit_tokens is not None:
            limits.append(f"{tokens:,} of {budget.limit_tokens:,} tokens")
        return BudgetExceeded(
            f"budget {budget.name!r} is spent for this {budget.period} (UTC): "
            f"{' and '.join(limits)}; it resets at {resets.isoformat()}",
            budget=budget.name,
            spent_usd=usd,
            spent_tokens=tokens,
            limit_usd=budget.limit_usd,
            limit_tokens=budget.limit_tokens,
            period=budget.period,
            period_start=start,
            resets_at=resets,
        )

    def _check_thresholds(self, budget: BudgetSettings, spend: BudgetSpend) -> None:
        percent = _percent((budget.limit_usd, budget.limit_tokens), spend.usd, spend.tokens)
        for threshold in budget.thresholds:
            key = (budget.name, spend.period_start, threshold)
            if threshold > percent:
                break
            with self._lock:
                if key in self._alerted:
                    continue
            alert = BudgetAlert(
                budget=budget.name,
                period_start=spend.period_start,
                threshold=threshold,
                at=self._clock(),
                usd=spend.usd,
                tokens=spend.tokens,
                limit_usd=budget.limit_usd,
                limit_tokens=budget.limit_tokens,
                detail=f"{percent:.1f}% of this {budget.period}'s limit spent",
            )
            recorded = self._store.add_budget_alert(alert)
            with self._lock:
                self._alerted.add(key)
            if not recorded:
                continue  # another process or thread recorded it, and alerts
            logger.warning(
                "budget %r reached %d%% of its %s limit ($%.2f, %d tokens)",
                budget.name,
                threshold,
                budget.period,
                spend.usd,
                spend.tokens,
            )
            if budget.webhook:
                logger.debug("sending budget alert to %s", masked_webhook(budget.webhook))
                self._webhook.send(budget.webhook, _alert_body(alert, budget))


def _alert_body(alert: BudgetAlert, budget: BudgetSettings) -> dict[str, object]:
    return {
        "type": "llmopt.budget_alert",
        "budget": alert.budget,
        "entry": budget.entry,
        "period": budget.period,
        "periodStart": alert.period_start.isoformat(),
        "threshold": alert.threshold,
        "at": alert.at.isoformat(),
        "usd": alert.usd,
        "tokens": alert.tokens,
        "limitUsd": alert.limit_usd,
        "limitTokens": alert.limit_tokens,
        "atLimit": budget.at_limit,
        "detail": alert.detail,
    }
