"""Alerts (budget, quality) POSTed to webhooks in the background, never in a caller's way."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

from llmopt._secrets import masked_url

logger = logging.getLogger("llmopt.tokens")

masked_webhook = masked_url


def http_url(value: str) -> str:
    """``value`` when it is an http(s) URL with a host; else ``ValueError``. For the
    webhook fields of settings models (a pydantic validator calls it)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("webhook must be an http:// or https:// URL")
    return value


"""A webhook URL as it may be shown, logged or audited (see :func:`llmopt._secrets.masked_url`)."""

_STOP = object()


class WebhookSender:
    """Posts JSON bodies from one daemon thread: a short ``timeout``, one retry at most
    on a connection error or a 5xx/429 answer, failures logged (with :func:`masked_webhook`)
    and dropped. ``send`` only queues, so it never blocks or raises. ``transport`` is an
    httpx transport for tests; :meth:`flush` waits until the queue is empty. ``kind`` names
    the alerts in the thread's name and the log ("budget", "quality")."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        kind: str = "budget",
    ) -> None:
        self._kind = kind
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, url: str, body: dict[str, Any]) -> None:
        """Queue one POST of ``body`` to ``url``."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"llmopt-{self._kind}-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put((url, body))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued POST was made (or given up); ``False`` on timeout."""
        done = threading.Event()
        self._queue.put(done)
        with self._lock:
            started = self._thread is not None
        return done.wait(timeout) if started else True

    def close(self) -> None:
        """Stop the thread after what is queued, and close the HTTP client."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(10)
        self._client.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            url, body = item
            self._post(url, body)

    def _post(self, url: str, body: dict[str, Any]) -> None:
        for attempt in (1, 2):
            try:
                response = self._client.post(url, json=body)
            except httpx.HTTPError as error:
                problem = type(error).__name__
            else:
                if response.status_code < 400:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    attempt = 2  # a retry cannot help a refusal
            if attempt == 2:
                logger.warning(
                    "%s alert webhook %s failed: %s", self._kind, masked_webhook(url), problem
                )
                return
