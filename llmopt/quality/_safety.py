"""Refusals and unsafe content in an answer.

A refusal is never a good answer for a cascade to accept (another model may answer a
legitimate request), and an answer that echoes a credential must never reach the user.
Both are *fatal*: the combined score becomes 0.

=====================  ======  ==========================================================
flag                   fatal   raised when
=====================  ======  ==========================================================
provider_refusal       yes     the provider says so (:func:`~llmopt.failover.classify_response`:
                               OpenAI ``content_filter`` or ``refusal``, Anthropic
                               ``stop_reason: refusal``)
refusal_phrase         yes     the answer opens (first 300 characters) with a refusal
                               phrase: "I can't help with", "I cannot assist",
                               "I'm unable to provide", "I won't be able to help",
                               "I'm sorry, but I can't", "I must decline"
ai_disclaimer          no      "As an AI (language model)" anywhere: a hedge, not a
                               refusal; halves the safety score
secret:<kind>          yes     the answer contains what looks like a credential:
                               Anthropic/OpenAI/AWS/GitHub/Slack/Google keys, a private
                               key block, a JWT. The secret itself is never copied into
                               the result (only its kind and a masked prefix)
=====================  ======  ==========================================================

Refusal phrases are only looked for near the start: "I can't help with X, but here is
Y" deep inside a long answer is usually a caveat, not a refusal.
"""

from __future__ import annotations

import re
from typing import Any

from llmopt._secrets import MASK
from llmopt.failover._classify import ErrorClass, classify_response
from llmopt.quality._score import CheckResult
from llmopt.quality._text import message_text

_OPENING = 300
_REFUSAL = re.compile(
    r"\b(?:I(?:'m| am)? (?:sorry,? (?:but )?)?(?:I )?(?:can(?:no|')t|cannot|won'?t be able to|"
    r"am unable to|'m unable to|unable to|will not|won'?t) (?:help|assist|provide|comply|"
    r"do that|create|write|fulfil)"
    r"|I must (?:decline|refuse)"
    r"|I'?m not able to (?:help|assist|provide))",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(r"\bAs an AI(?: language model| assistant)?\b", re.IGNORECASE)
_SECRETS: dict[str, re.Pattern[str]] = {
    "anthropic_api_key": re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    "openai_api_key": re.compile(r"\bsk-(?!ant-)(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github_token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    "slack_token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "google_api_key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    "private_key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}


def leaked_secrets(text: str) -> list[dict[str, str]]:
    """What looks like a credential in ``text``: ``{"kind", "masked"}`` per match.

    ``masked`` keeps the first 6 characters (enough to tell the kind and look it up),
    never the secret.
    """
    return [
        {"kind": kind, "masked": match.group(0)[:6] + MASK}
        for kind, pattern in _SECRETS.items()
        for match in pattern.finditer(text)
    ]


def check_refusal_and_safety(message: Any) -> CheckResult:
    """Refusal and safety flags of ``message`` (a LangChain message or text).

    Score 1 with no flag, 0.5 with only an AI disclaimer, 0 (fatal) for a refusal or a
    leaked secret; ``details["flags"]`` names each flag (see the module table).
    """
    text = message_text(message)
    flags: list[str] = []
    if classify_response(message) is ErrorClass.CONTENT_REFUSAL:
        flags.append("provider_refusal")
    phrase = _REFUSAL.search(text[:_OPENING])
    if phrase is not None:
        flags.append("refusal_phrase")
    if _DISCLAIMER.search(text):
        flags.append("ai_disclaimer")
    secrets = leaked_secrets(text)
    flags.extend(sorted({f"secret:{s['kind']}" for s in secrets}))
    details: dict[str, Any] = {"flags": flags}
    if secrets:
        details["secrets"] = secrets
    fatal = [f for f in flags if f != "ai_disclaimer"]
    if fatal:
        if secrets:
            kinds = ", ".join(sorted({s["kind"] for s in secrets}))
            reason = f"the answer contains what looks like a credential ({kinds})"
        elif phrase is not None:
            reason = f"the answer is a refusal ({phrase.group(0)!r})"
        else:
            reason = "the provider refused to answer"
        return CheckResult("safety", 0.0, reason, details, fatal=True)
    if flags:
        return CheckResult(
            "safety", 0.5, "the answer hedges with an 'As an AI' disclaimer", details
        )
    return CheckResult("safety", 1.0, "no refusal or safety flag", details)
