"""Keep secrets (API keys, passwords, tokens) out of pages, API responses, logs and audits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "********"

# Matched against whole key names: `maxTokens` is not a secret, `accessToken` is.
_SECRET_KEY = re.compile(
    r"(api_?key|secret|password|passwd|access_?token|auth_?token|session_?token|"
    r"credentials?|private_?key|^token$)",
    re.IGNORECASE,
)


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
        return {
            k: (MASK if is_secret_key(k) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
