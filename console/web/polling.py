"""How often live fragments refresh, named once: every interval the console polls at.

A live fragment polls its own page's URL (the view renders the fragment alone for htmx,
``@vary_on_headers("HX-Request")``) through ``{% live_refresh url poll %}``
(``console/templatetags/polling.py``); ``static/console/console.js`` slows it down to
``hidden`` while the tab is hidden, and polls at once when it is shown again.

===============  =======  ======  ===============================================
poll             visible  hidden  where
===============  =======  ======  ===============================================
``BATCH_LIVE``   2s       30s     a batch in flight: the Batches list, its page
``NEW_BATCHES``  15s      60s     the Batches list's first page, nothing in flight
``OVERVIEW``     5s       60s     the Overview's live part
===============  =======  ======  ===============================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Poll:
    """htmx intervals (``"2s"``): while the tab is visible, and while it is hidden."""

    visible: str
    hidden: str

    @property
    def trigger(self) -> str:
        """The ``hx-trigger``: the interval, and at once when the tab is shown again."""
        return f"every {self.visible}, visibilitychange from:document"


BATCH_LIVE = Poll(visible="2s", hidden="30s")
NEW_BATCHES = Poll(visible="15s", hidden="60s")
OVERVIEW = Poll(visible="5s", hidden="60s")
