"""``/healthz``: whether this console can serve, for load balancers."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from llmopt.errors import StoreError

from ..broker import BrokerUnavailable, check_broker
from ..celery import app as celery_app
from ..store import get_store

logger = logging.getLogger("console")

HEALTH_BROKER_TIMEOUT = 2
"""Seconds the health check waits for the broker; load balancers time out soon after."""


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the llmopt store and the Celery broker answer, else 503.

    No login (a load balancer has none) and nothing secret: only what works. The
    reasons go to the log, with the broker's password masked.
    """
    checks = {"store": "ok", "broker": "ok"}
    try:
        get_store().ping()
    except StoreError as exc:
        logger.error("health check: store unreachable: %s", exc)
        checks["store"] = "unreachable"
    try:
        check_broker(celery_app, timeout=HEALTH_BROKER_TIMEOUT)
    except BrokerUnavailable as exc:
        logger.error("health check: broker unreachable: %s", exc)
        checks["broker"] = "unreachable"
    healthy = all(state == "ok" for state in checks.values())
    body = {"status": "ok" if healthy else "unavailable", **checks}
    return JsonResponse(body, status=200 if healthy else 503)
