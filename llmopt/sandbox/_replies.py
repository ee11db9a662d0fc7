"""Deterministic replies: the same request always gets the same content.

The reply is seeded by a hash of what the model would see (model, system, messages,
tools, tool_choice, output format; ``cache_control``, ``max_tokens``, ``stop_sequences``
and ``stream`` left out, so a truncated or streamed reply is a prefix of the full one).

- ``tool_choice`` ``{"type": "tool", "name": N}`` or ``{"type": "any"}``: one
  ``tool_use`` block whose ``input`` satisfies the tool's ``input_schema``; stop reason
  ``tool_use``. With ``any`` the tool named by ``call <name>`` in the last user text is
  used, else one picked by the hash.
- ``tool_choice`` ``auto`` (or none given) and the last user text says ``call <name>`` for
  a defined tool: the same ``tool_use`` reply.
- ``output_config.format`` with a JSON schema: a text block holding JSON that satisfies it.
- A quiz (``[quiz <task> answer=<value>]`` in the last user text) with ``skills``: the
  answer, right or wrong as the model's scripted skill decides (:mod:`._skills`).
- Otherwise: a few sentences of text, 12 to 59 tokens long, cut at ``max_tokens`` (stop
  reason ``max_tokens``) or before the first stop sequence (``stop_sequence``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmopt.sandbox._schema_values import value_for_schema
from llmopt.sandbox._skills import Skills, quiz_answer
from llmopt.sandbox._tokens import (
    canonical_json,
    text_tokens,
    tool_use_tokens,
    without_cache_control,
)
from llmopt.sandbox._validation import MessageRequest

_WORDS = (
    "the",
    "sandbox",
    "answers",
    "every",
    "question",
    "with",
    "steady",
    "words",
    "that",
    "sound",
    "like",
    "a",
    "reply",
    "from",
    "model",
    "which",
    "has",
    "read",
    "prompt",
    "carefully",
    "and",
    "wants",
    "to",
    "help",
    "while",
    "staying",
    "brief",
    "clear",
    "about",
    "costs",
    "caches",
    "batches",
    "tokens",
    "prompts",
    "results",
    "plans",
    "for",
    "tomorrow",
)
_CALL = re.compile(r"\bcall\s+([A-Za-z0-9_-]{1,128})")
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply's content blocks (as JSON), why it stopped, and its output tokens."""

    content: tuple[dict[str, Any], ...]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


def fingerprint(request: MessageRequest) -> bytes:
    """A hash of everything that shapes the reply."""
    seen = {
        "model": request.model,
        "system": list(request.system),
        "messages": [{"role": t.role, "content": list(t.blocks)} for t in request.messages],
        "tools": list(request.tools),
        "tool_choice": request.tool_choice,
        "output_schema": request.output_schema,
    }
    return hashlib.sha256(canonical_json(without_cache_control(seen)).encode()).digest()


def compose_reply(request: MessageRequest, skills: Skills | None = None) -> Reply:
    """The reply to ``request``; the same request always gets the same reply."""
    seed = fingerprint(request)
    rng = random.Random(seed)
    max_tokens = request.max_tokens or 1
    tool = _tool_to_call(request, rng)
    if tool is not None:
        name = str(tool["name"])
        tool_input = value_for_schema(tool.get("input_schema", {}), rng)
        block = {"type": "tool_use", "id": _tool_use_id(seed), "name": name, "input": tool_input}
        tokens = tool_use_tokens(name, tool_input)
        stop = "tool_use" if tokens <= max_tokens else "max_tokens"
        return Reply((block,), stop, None, min(tokens, max_tokens))
    quiz = None
    if skills is not None:
        quiz = quiz_answer(request.last_user_text, model=request.model, skills=skills, seed=seed)
    if quiz is not None:
        return _fixed_text(quiz, max_tokens)
    if request.output_schema is not None:
        text = json.dumps(value_for_schema(request.output_schema, rng))
        tokens = text_tokens(text)
        stop = "end_turn" if tokens <= max_tokens else "max_tokens"
        return Reply(({"type": "text", "text": text},), stop, None, min(tokens, max_tokens))
    return _text_reply(rng, max_tokens, request.stop_sequences)


def _fixed_text(text: str, max_tokens: int) -> Reply:
    words = text.split(" ")
    while len(words) > 1 and text_tokens(" ".join(words)) > max_tokens:
        words.pop()
    kept = " ".join(words)
    stop = "end_turn" if kept == text else "max_tokens"
    return Reply(({"type": "text", "text": kept},), stop, None, text_tokens(kept))


def _tool_to_call(request: MessageRequest, rng: random.Random) -> Mapping[str, Any] | None:
    custom = {str(t["name"]): t for t in request.tools if t.get("type") in (None, "custom")}
    if not custom:
        return None
    choice = request.tool_choice or {"type": "auto"}
    kind = choice.get("type")
    if kind == "tool":
        return custom.get(str(choice.get("name")))
    if kind == "none" or _ends_with_tool_results(request):
        return None
    named = [m for m in _CALL.findall(request.last_user_text) if m in custom]
    if named:
        return custom[named[-1]]
    if kind == "any":
        return custom[rng.choice(sorted(custom))]
    return None


def _ends_with_tool_results(request: MessageRequest) -> bool:
    last = request.messages[-1]
    return last.role == "user" and any(b.get("type") == "tool_result" for b in last.blocks)


def _tool_use_id(seed: bytes) -> str:
    number = int.from_bytes(hashlib.sha256(b"tool_use" + seed).digest(), "big")
    chars = []
    for _ in range(24):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "toolu_" + "".join(chars)


def _sentence_tokens(rng: random.Random, count: int) -> list[str]:
    tokens: list[str] = []
    while len(tokens) < count:
        length = rng.randint(5, 11)
        words = [rng.choice(_WORDS) for _ in range(length)]
        words[0] = words[0].capitalize()
        if length > 7:
            words.insert(rng.randint(3, length - 3), ",")
        tokens.extend([*words, "."])
    return tokens[:count]


def _render(tokens: list[str]) -> str:
    text = ""
    for token in tokens:
        if token in {",", "."} or not text:
            text += token
        else:
            text += " " + token
    return text


def _text_reply(rng: random.Random, max_tokens: int, stops: tuple[str, ...]) -> Reply:
    wanted = 12 + rng.randrange(48)
    # Sentences are drawn one after the other, so the first max_tokens tokens are the
    # same whether or not the rest is drawn: skip drawing what max_tokens cuts off.
    tokens = _sentence_tokens(rng, min(wanted, max_tokens))
    text = _render(tokens)
    stop_reason = "max_tokens" if wanted > max_tokens else "end_turn"
    found = [(text.find(s), i) for i, s in enumerate(stops) if s and s in text]
    if found:
        index, which = min(found)
        text, stop_sequence = text[:index], stops[which]
        used = min(max_tokens, max(1, text_tokens(text) + text_tokens(stop_sequence)))
        content = ({"type": "text", "text": text},) if text else ()
        return Reply(content, "stop_sequence", stop_sequence, used)
    return Reply(({"type": "text", "text": text},), stop_reason, None, text_tokens(text))
