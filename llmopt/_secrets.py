"""Keep secrets (API keys, passwords, tokens) out of pages, API responses, logs and audits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

MASK = "********"

# Matched against whole key names: `maxTokens` is not a secret, `accessToken` is.
_SECRET_KEY = re.compile(
    r"(api_?key|secret|password|passwd|access_?token|auth_?token|session_?token|"
    r"credentials?|private_?key|^token$)",
    re.IGNORECASE,
)


# Fields holding a URL that may carry a token (a Slack webhook's path, ``?token=``).
_URL_KEY = re.compile(r"(webhook|callback_?url)", re.IGNORECASE)


def is_secret_key(key: object) -> bool:
    """Whether a configuration field of this name holds a secret."""
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-named field's value replaced by a mask.

    Use it on anything read from the configuration or the audit log before it is shown,
    logged, returned by an API or written to an audit record. Walks dicts and lists;
    everything else is returned as it is. A secret that is empty or absent stays empty,
    so "no key set" can still be told from "key set". Never raises.
    """
    if isinstance(value, Mapping):
        return {k: _redacted(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _redacted(key: object, value: Any) -> Any:
    if value in (None, ""):
        return value
    if is_secret_key(key):
        return MASK
    if isinstance(key, str) and isinstance(value, str) and _URL_KEY.search(key):
        return masked_url(value)
    return redact(value)


# A leading path segment shown as it is: a short word (``services``, ``api``, ``hooks``),
# never an id or a token. Query keys likewise; their values are always masked.
_PATH_WORD = re.compile(r"[A-Za-z][A-Za-z._-]{0,19}")
_QUERY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")


def masked_url(url: str) -> str:
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
