"""The client's address, as the sign-in lockout and the API token throttle count it.

The connection's own address (``REMOTE_ADDR``), unless ``DJANGO_TRUSTED_PROXY_COUNT``
says how many reverse proxies stand in front of the console. Each of those appends the
address it was reached from to ``X-Forwarded-For``, so the client is the entry that many
places from the right; whatever lies further left the client wrote itself and is never
believed. Without the setting the header is ignored: anyone can send one.
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger("console")


def client_address(request: HttpRequest) -> str | None:
    """The address to count failures against, or ``None`` when the request has none."""
    remote = _valid(request.META.get("REMOTE_ADDR", ""))
    proxies: int = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    forwarded = _valid(hops[-proxies]) if len(hops) >= proxies else None
    if forwarded is None:
        # The proxies did not say who the client is: count the nearest proxy instead.
        logger.warning(
            "X-Forwarded-For has no client address %d proxies deep (DJANGO_TRUSTED_PROXY_COUNT)"
            "; using the connection's, %s",
            proxies,
            remote,
        )
        return remote
    return forwarded


def _valid(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
