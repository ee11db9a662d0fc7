"""The console's clock: the "now" the usage pages and the API's statistics count from.

Tests freeze it (``with CLOCK.frozen(at): ...``) instead of patching a module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


class Clock:
    """The current time in UTC, unless frozen."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC)

    @contextmanager
    def frozen(self, at: datetime) -> Iterator[None]:
        """``now()`` is ``at`` inside the block."""
        before, self._frozen = self._frozen, at
        try:
            yield
        finally:
            self._frozen = before


CLOCK = Clock()
