"""Budget alerts POSTed to webhooks in the background, never in a caller's way."""

from __future__ import annotations

import logging
import queue
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

from llmopt._secrets import MASK

logger = logging.getLogger("llmopt.tokens")

_STOP = object()


# A leading path segment shown as it is: a short word (``services``, ``api``, ``hooks``),
# never an id or a token. Query keys likewise; their values are always masked.
_PATH_WORD = re.compile(r"[A-Za-z][A-Za-z._-]{0,19}")
_QUERY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")


def masked_webhook(url: str) -> str:
    """``url`` as it may be shown, logged or audited: what may hold a secret replaced by
    ``********``, enough kept to recognise it.

    Kept: the scheme, host and port, and the first path segment when it is a short word
    followed by more path. Masked: user info, the rest of the path, every query value
    (keys that are words are kept) and the fragment. So
    ``https://hooks.slack.com/services/T0/B0/XXXX`` shows as
    ``https://hooks.slack.com/services/********`` and ``https://u:pw@h/x?token=s``
    as ``https://********@h/********?token=********``. A URL with nothing past its
    host is shown whole; masking a masked URL changes nothing. Never raises.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = f"{host}:{port}" if port is not None else host
    if "@" in parts.netloc:
        netloc = f"{MASK}@{netloc}"
    words = parts.path.strip("/").split("/")
    lead = "/" if parts.path.startswith("/") else ""
    path = parts.path if not words[0] else f"{lead}{MASK}"
    if len(words) > 1 and _PATH_WORD.fullmatch(words[0]):
        path = f"{lead}{words[0]}/{MASK}"
    query = "&".join(
        f"{key}={MASK}" if sep and _QUERY_KEY.fullmatch(key) else MASK
        for key, sep, _ in (piece.partition("=") for piece in parts.query.split("&"))
    )
    shown = f"{parts.scheme}://{netloc}{path}" if parts.scheme else f"{netloc}{path}"
    if parts.query:
        shown += f"?{query}"
    if parts.fragment:
        shown += f"#{MASK}"
    return shown


class WebhookSender:
    """Posts JSON bodies from one daemon thread: a short ``timeout``, one retry at most
    on a connection error or a 5xx/429 answer, failures logged (with :func:`masked_webhook`)
    and dropped. ``send`` only queues, so it never blocks or raises. ``transport`` is an
    httpx transport for tests; :meth:`flush` waits until the queue is empty."""

    def __init__(
        self, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, url: str, body: dict[str, Any]) -> None:
        """Queue one POST of ``body`` to ``url``."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="llmopt-budget-webhooks", daemon=True
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
                logger.warning("budget alert webhook %s failed: %s", masked_webhook(url), problem)
                return
