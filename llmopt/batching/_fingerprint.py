"""Request fingerprints: the key under which a finished answer is kept for reuse."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON: sorted keys, no whitespace, UTF-8, no NaN.

    Raises ``TypeError`` for a value JSON cannot hold and ``ValueError`` for NaN or
    infinity, which no provider accepts either.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def fingerprint(params: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of a Messages request body's canonical JSON.

    Two requests with the same fingerprint are the same request, whatever order their
    keys came in; a finished answer stored under it is reused instead of paying again.
    Fingerprint the body as sent, ``model`` included. Raises ``TypeError`` when
    ``params`` holds something JSON cannot represent.
    """
    return hashlib.sha256(canonical_json(dict(params))).hexdigest()
