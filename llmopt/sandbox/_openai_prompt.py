"""A Chat Completions prompt as OpenAI's automatic cache sees it: prefix blocks in order,
each with the key and token count of the prefix that ends with it.

The prefix runs tools → the structured-output schema → messages, one block per tool
definition, one for the ``response_format`` schema (it "serves as a prefix to the system
message"), one per message. Keys chain hashes of the canonical JSON of the blocks, so two
prompts share a key exactly when they share everything up to that block. Matching is by
block; within a block that differs nothing is shared (real caching matches token by
token, so it can find a little more).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from llmopt.sandbox._openai_request import ChatRequest
from llmopt.sandbox._tokens import (
    CHAT_REPLY_OVERHEAD,
    canonical_json,
    chat_message_tokens,
    chat_schema_tokens,
    tool_definition_tokens,
)

_ROOT = hashlib.sha256(b"llmopt-sandbox openai prompt prefix v1").digest()


@dataclass(frozen=True, slots=True)
class ChatPrompt:
    """Per block: ``prefix_keys[i]`` and ``prefix_tokens[i]`` describe the prefix up to and
    including block ``i``. ``total_tokens`` is the request's ``prompt_tokens``."""

    prefix_keys: tuple[bytes, ...]
    prefix_tokens: tuple[int, ...]
    total_tokens: int


def build_chat_prompt(request: ChatRequest) -> ChatPrompt:
    """The prefix blocks, keys and token counts of ``request``."""
    chain = _ROOT
    keys: list[bytes] = []
    tokens: list[int] = []
    running = 0

    def add(tag: str, value: Any, count: int) -> None:
        nonlocal chain, running
        data = canonical_json(value).encode()
        chain = hashlib.sha256(chain + tag.encode() + b"\0" + data).digest()
        running += count
        keys.append(chain)
        tokens.append(running)

    for tool in request.tools:
        add("tool", tool, tool_definition_tokens(tool["function"]))
    if request.response_format is not None and request.response_format["type"] == "json_schema":
        schema = request.response_format["json_schema"]
        add("schema", schema, chat_schema_tokens(schema))
    for message in request.messages:
        add("message", message, chat_message_tokens(message))
    return ChatPrompt(tuple(keys), tuple(tokens), running + CHAT_REPLY_OVERHEAD)
