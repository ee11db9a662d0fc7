r"""The sandbox's deterministic token counter.

Claude's tokenizer is not public, so the sandbox counts the same way every time with a
rule simple enough to predict in a test:

- text: one token per match of ``\w+|[^\w\s]`` (a word, or one punctuation character);
- an image: ``IMAGE_TOKENS`` (1,600), whatever its size;
- a document: its text for plain-text and content sources, else ``DOCUMENT_TOKENS``
  (1,500), plus its title and context;
- a tool definition: the text count of its canonical JSON (sorted keys, no spaces, no
  ``cache_control``) + ``TOOL_OVERHEAD`` (5);
- a ``tool_use`` block: canonical JSON of its ``name`` and ``input`` +
  ``TOOL_USE_OVERHEAD`` (3); a ``tool_result`` block: its content + ``TOOL_RESULT_OVERHEAD`` (3);
- a ``thinking`` block: its text; ``redacted_thinking``: ``REDACTED_THINKING_TOKENS`` (50);
- each message: + ``MESSAGE_OVERHEAD`` (3, the role marker), counted with its first block;
- each request: + ``REQUEST_OVERHEAD`` (4, the turn that starts the reply), after every
  block, so it is never cached and a full cache hit still shows ``input_tokens`` of 4.

OpenAI Chat Completions and Ollama chat messages are counted with the same text rule and
the overheads of OpenAI's published counting recipe (3 per message, 1 per ``name``, 3
priming the reply):

- each message: + ``CHAT_MESSAGE_OVERHEAD`` (3) + its content (a string, or its text
  parts; an image part, or each of an Ollama message's ``images``, ``IMAGE_TOKENS``) +
  ``CHAT_NAME_OVERHEAD`` (1) and the name with a ``name``;
- each assistant tool call: the canonical JSON of its ``name`` and ``arguments`` +
  ``TOOL_USE_OVERHEAD`` (3); a tool message: its content + ``TOOL_RESULT_OVERHEAD`` (3);
- each tool definition (the ``function`` object): as above, + ``TOOL_OVERHEAD`` (5);
- a ``response_format`` schema: the canonical JSON of its ``json_schema`` +
  ``TOOL_OVERHEAD`` (5), as it is a prefix the model sees;
- each request: + ``CHAT_REPLY_OVERHEAD`` (3, the reply's priming), after every message,
  so it is never cached.

For English prose the word-and-punctuation count lands close to real BPE counts (real
tokens split rare words, this rule does not); JSON counts high, as every quote and brace
is a token. Output is counted the same way. The same input always gives the same count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

IMAGE_TOKENS = 1_600
DOCUMENT_TOKENS = 1_500
TOOL_OVERHEAD = 5
TOOL_USE_OVERHEAD = 3
TOOL_RESULT_OVERHEAD = 3
REDACTED_THINKING_TOKENS = 50
MESSAGE_OVERHEAD = 3
REQUEST_OVERHEAD = 4
CHAT_MESSAGE_OVERHEAD = 3
CHAT_NAME_OVERHEAD = 1
CHAT_REPLY_OVERHEAD = 3

_TOKEN = re.compile(r"\w+|[^\w\s]")


def text_tokens(text: str) -> int:
    """Tokens in ``text``: its words and punctuation characters."""
    return sum(1 for _ in _TOKEN.finditer(text))


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys and no spaces: equal values, equal text."""
    return _CANONICAL.encode(value)  # json.dumps would build an encoder per call


def without_cache_control(value: Any) -> Any:
    """``value`` with every ``cache_control`` key removed, at any depth."""
    # The exact-type checks first: they are cheap, and this runs on every block of every
    # request (a Mapping check goes through the ABC machinery).
    kind = type(value)
    if kind is str or kind is int or value is None:
        return value
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        return {k: without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if kind is list or isinstance(value, list):
        return [without_cache_control(v) for v in value]
    return value


def json_tokens(value: Any) -> int:
    """Tokens in the canonical JSON of ``value`` (``cache_control`` left out)."""
    return text_tokens(canonical_json(without_cache_control(value)))


def tool_definition_tokens(tool: Mapping[str, Any]) -> int:
    """Tokens of one tool definition."""
    return json_tokens(tool) + TOOL_OVERHEAD


def tool_use_tokens(name: str, tool_input: Any) -> int:
    """Tokens of a ``tool_use`` block, asked for or generated."""
    return json_tokens({"name": name, "input": tool_input}) + TOOL_USE_OVERHEAD


def block_tokens(block: Mapping[str, Any]) -> int:
    """Tokens of one content block of a message or of the system prompt."""
    kind = block.get("type")
    if kind == "text":
        return text_tokens(str(block.get("text", "")))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        return _document_tokens(block)
    if kind == "tool_use":
        return tool_use_tokens(str(block.get("name", "")), block.get("input", {}))
    if kind == "tool_result":
        return _content_tokens(block.get("content", "")) + TOOL_RESULT_OVERHEAD
    if kind == "thinking":
        return text_tokens(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return REDACTED_THINKING_TOKENS
    return json_tokens(block)


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return text_tokens(content)
    if isinstance(content, list):
        return sum(block_tokens(b) for b in content if isinstance(b, Mapping))
    return 0


def _document_tokens(block: Mapping[str, Any]) -> int:
    source = block.get("source")
    extra = text_tokens(str(block.get("title") or "")) + text_tokens(
        str(block.get("context") or "")
    )
    if isinstance(source, Mapping):
        if source.get("type") == "text":
            return text_tokens(str(source.get("data", ""))) + extra
        if source.get("type") == "content":
            return _content_tokens(source.get("content", [])) + extra
    return DOCUMENT_TOKENS + extra


def chat_message_tokens(message: Mapping[str, Any]) -> int:
    """Tokens of one OpenAI (or Ollama) chat message, its overhead included."""
    tokens = CHAT_MESSAGE_OVERHEAD + _chat_content_tokens(message.get("content"))
    if message.get("name"):
        tokens += CHAT_NAME_OVERHEAD + text_tokens(str(message["name"]))
    for call in message.get("tool_calls") or ():
        function = call.get("function", {}) if isinstance(call, Mapping) else {}
        tokens += chat_tool_call_tokens(
            str(function.get("name", "")), function.get("arguments", "")
        )
    if message.get("role") == "tool":
        tokens += TOOL_RESULT_OVERHEAD
    images = message.get("images")  # Ollama's base64 images
    if isinstance(images, list):
        tokens += IMAGE_TOKENS * len(images)
    return tokens


def chat_tool_call_tokens(name: str, arguments: Any) -> int:
    """Tokens of one tool call a chat reply makes (``arguments`` a string or an object)."""
    return json_tokens({"name": name, "arguments": arguments}) + TOOL_USE_OVERHEAD


def chat_schema_tokens(schema: Any) -> int:
    """Tokens of a structured-output schema in a chat request."""
    return json_tokens(schema) + TOOL_OVERHEAD


def _chat_content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return text_tokens(content)
    tokens = 0
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            tokens += text_tokens(str(part.get("text", "")))
        elif kind == "refusal":
            tokens += text_tokens(str(part.get("refusal", "")))
        elif kind in ("image_url", "input_audio", "file"):
            tokens += IMAGE_TOKENS
        else:
            tokens += json_tokens(part)
    return tokens
