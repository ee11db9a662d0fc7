"""Who is locked out, until when, and lifting it: failed sign-ins and refused API tokens.

Two ledgers in Django's database, one rule (``LLMOPT_LOCKOUT_FAILURES`` within
``LLMOPT_LOCKOUT_MINUTES``):

======================  ==================================  ==============================
ledger                  counts                              locks out
======================  ==================================  ==============================
django-axes             failed sign-ins (``AccessAttempt``  the account, and the client
                        per account, address, browser)      address, each on its own
``RefusedTokens``       refused API tokens per address      the address, for API tokens
======================  ==================================  ==============================

A lockout lasts until the failures that reached the limit are older than the window;
what is refused meanwhile does not count. Admins lift one on the Users page (audited).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from llmopt.errors import StoreError
from llmopt.store import AuditEvent

from ..audit.actions import LOCKOUT_LIFT, LOCKOUT_START
from ..models import RefusedTokens
from ..store import get_store

logger = logging.getLogger("console")

Kind = Literal["account", "address"]
KINDS: tuple[Kind, ...] = ("account", "address")


_ATTEMPT_FIELDS = ("username", "ip_address", "attempt_time", "failures_since_start")


class NothingToUnlock(ValueError):
    """The account or address named is not locked out and has no failures counted."""


@dataclass(frozen=True)
class Lockout:
    """An account or address that may not sign in (or use API tokens) until ``until``."""

    kind: Kind
    value: str
    until: datetime
    door: str
    """What it is locked out of: ``sign-in`` or ``API tokens``."""

    @property
    def target(self) -> str:
        """How the audit log names it: ``account alice``, ``address 203.0.113.7``."""
        return f"{self.kind} {self.value}"

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(1, math.ceil((self.until - (now or timezone.now())).total_seconds()))


def window() -> timedelta:
    return timedelta(minutes=settings.LLMOPT_LOCKOUT_MINUTES)


def active_lockouts(now: datetime | None = None) -> list[Lockout]:
    """Every account and address locked out now (of either door), accounts first."""
    now = now or timezone.now()
    attempts = AccessAttempt.objects.filter(attempt_time__gte=now - window())
    found = _sign_in_lockouts(attempts.values_list(*_ATTEMPT_FIELDS), now)
    for row in RefusedTokens.objects.filter(last_at__gte=now - window()):
        if row.failures >= settings.LLMOPT_LOCKOUT_FAILURES:
            found.append(Lockout("address", row.address, row.last_at + window(), "API tokens"))
    # One line per account or address: an address may be locked out of both doors.
    merged: dict[tuple[Kind, str], Lockout] = {}
    for lock in found:
        seen = merged.get((lock.kind, lock.value))
        if seen is not None:
            lock = Lockout(
                lock.kind, lock.value, max(lock.until, seen.until), f"{seen.door} and {lock.door}"
            )
        merged[(lock.kind, lock.value)] = lock
    return sorted(merged.values(), key=lambda lock: (KINDS.index(lock.kind), lock.value))


def sign_in_lockout(username: str | None, address: str | None) -> Lockout | None:
    """The sign-in lockout that refuses this account or address, the longest if both."""
    now = timezone.now()
    attempts = AccessAttempt.objects.filter(attempt_time__gte=now - window()).filter(
        Q(username=username) | Q(ip_address=address)
    )
    mine = {("account", username), ("address", address)}
    found = _sign_in_lockouts(attempts.values_list(*_ATTEMPT_FIELDS), now)
    return max(
        (lock for lock in found if (lock.kind, lock.value) in mine),
        key=lambda lock: lock.until,
        default=None,
    )


def token_lockout(address: str | None) -> Lockout | None:
    """The lockout that refuses API tokens from ``address``, if any."""
    row = RefusedTokens.objects.filter(
        address=_key(address), last_at__gte=timezone.now() - window()
    ).first()
    if row is None or row.failures < settings.LLMOPT_LOCKOUT_FAILURES:
        return None
    return Lockout("address", row.address, row.last_at + window(), "API tokens")


def count_refused_token(address: str | None) -> Lockout | None:
    """Count one refused API token from ``address``; the lockout it starts, if it does.

    The lockout start is audited (``lockout.start``) and logged; the refused token is
    only logged, and never any of it.
    """
    now = timezone.now()
    key = _key(address)
    with transaction.atomic():
        RefusedTokens.objects.filter(last_at__lt=now - window()).delete()
        row, _created = RefusedTokens.objects.select_for_update().get_or_create(
            address=key, defaults={"failures": 0, "last_at": now}
        )
        row.failures += 1
        row.last_at = now
        row.save(update_fields=["failures", "last_at"])
    limit = settings.LLMOPT_LOCKOUT_FAILURES
    logger.warning("refused an API token from %s (%d of %d)", key, row.failures, limit)
    if row.failures != limit:
        return None
    lockout = Lockout("address", key, now + window(), "API tokens")
    record_lockout_start([lockout], why=f"{limit} refused API tokens")
    return lockout


def record_lockout_start(lockouts: Iterable[Lockout], *, why: str) -> None:
    """Log and audit that these lockouts began (a store failure is logged, not raised:
    the lockout holds whether or not it could be recorded)."""
    for lockout in lockouts:
        logger.warning(
            "locked out %s from %s until %s after %s in %d minutes",
            lockout.target,
            lockout.door,
            lockout.until.isoformat(timespec="seconds"),
            why,
            settings.LLMOPT_LOCKOUT_MINUTES,
        )
        try:
            get_store().record_audit(
                AuditEvent(
                    actor="console",
                    action=LOCKOUT_START,
                    target=lockout.target,
                    after={"door": lockout.door, "until": lockout.until.isoformat()},
                    reason=f"{why} in {settings.LLMOPT_LOCKOUT_MINUTES} minutes",
                )
            )
        except StoreError:
            logger.exception("could not audit the lockout of %s", lockout.target)


def lift(kind: str, value: str, *, actor: str) -> None:
    """Forget the failures counted against an account or address, so it may try again.

    Audited as ``lockout.lift``; nothing changes when the audit record cannot be written
    (``StoreError``). Raises ``NothingToUnlock`` when there is nothing counted.
    """
    if kind not in KINDS:
        raise NothingToUnlock(f"kind must be account or address, not {kind!r}")
    before = {
        lock.door: lock.until.isoformat()
        for lock in active_lockouts()
        if (lock.kind, lock.value) == (kind, value)
    }
    with transaction.atomic():
        lifted = _forget_sign_in_failures(kind, value)
        if kind == "address":
            lifted += RefusedTokens.objects.filter(address=value).delete()[0]
        if not lifted:
            raise NothingToUnlock(f"the {kind} {value} has no failures counted")
        get_store().record_audit(
            AuditEvent(
                actor=actor,
                action=LOCKOUT_LIFT,
                target=f"{kind} {value}",
                before=before or None,
                after=None,
            )
        )
    logger.info("%s lifted the lockout of %s %s", actor, kind, value)


def _forget_sign_in_failures(kind: Kind, value: str) -> int:
    # django-axes keeps one record per account, address and browser, counted towards
    # both the account and the address. Lifting one keeps the other's count: unlocking
    # the account an attacker guessed at must not unlock the attacker's address.
    field, other = ("username", "ip_address") if kind == "account" else ("ip_address", "username")
    records = AccessAttempt.objects.filter(**{field: value})
    deleted: int = records.filter(**{f"{other}__isnull": True}).delete()[0]
    updated: int = records.update(**{field: None})
    return deleted + updated


def _sign_in_lockouts(
    rows: Iterable[tuple[str | None, str | None, datetime, int]], now: datetime
) -> list[Lockout]:
    by_account: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    by_address: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for username, address, when, failures in rows:
        if username is not None:
            by_account[username].append((when, failures))
        if address is not None:
            by_address[address].append((when, failures))
    ledgers: tuple[tuple[Kind, dict[str, list[tuple[datetime, int]]]], ...] = (
        ("account", by_account),
        ("address", by_address),
    )
    found: list[Lockout] = []
    for kind, ledger in ledgers:
        for value, attempts in ledger.items():
            until = _locked_until(attempts)
            if until is not None and until > now:
                found.append(Lockout(kind, value, until, "sign-in"))
    return found


def _locked_until(failures: list[tuple[datetime, int]]) -> datetime | None:
    # django-axes locks while the failures of the records last touched within the window
    # add up to the limit; that ends when the record that reached it leaves the window.
    total = 0
    for when, count in sorted(failures, reverse=True):
        total += count
        if total >= settings.LLMOPT_LOCKOUT_FAILURES:
            return when + window()
    return None


def _key(address: str | None) -> str:
    return address or "unknown"
