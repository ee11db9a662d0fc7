"""``manual`` mode: find the ``[CACHE_BREAKPOINT]`` literals, take them out of the text.

Every occurrence is removed. A text block holding one is split there: the part
before ends where the breakpoint goes, the part after becomes a new text block, and
blank parts are dropped. In a tool result the literal is removed from its text and
the breakpoint goes on the tool result itself (a tool result cannot be split).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llmopt.caching._blocks import Path, PayloadEditor, is_blank
from llmopt.caching._tokens import MAPPINGS

LITERAL = "[CACHE_BREAKPOINT]"


@dataclass(frozen=True, slots=True)
class ManualRequest:
    """A breakpoint the text asks for: after the first ``emitted`` blocks of ``container``
    (``("system",)`` or ``("messages", i)``) once the literals are taken out."""

    container: Path
    emitted: int


def take_manual_breakpoints(
    editor: PayloadEditor, note: Callable[[str], None]
) -> list[ManualRequest]:
    """Remove every literal from the request in ``editor``; return where they were."""
    payload = editor.current
    requests: list[ManualRequest] = []
    system = payload.get("system")
    if _holds_literal(system):
        blocks = _rewrite(system, ("system",), requests)
        if blocks:
            editor.replace(("system",), blocks)
        else:
            editor.remove("system")
            note("manual: the system prompt held only [CACHE_BREAKPOINT]; dropped it")
    messages = payload.get("messages")
    for index, message in enumerate(messages if isinstance(messages, list) else ()):
        if not isinstance(message, MAPPINGS):
            continue
        content = message.get("content")
        if not _holds_literal(content):
            continue
        blocks = _rewrite(content, ("messages", index), requests)
        editor.replace(("messages", index, "content"), blocks)
        if not blocks:
            note(f"manual: messages[{index}] held only [CACHE_BREAKPOINT] and is now empty")
    return requests


def _holds_literal(content: Any) -> bool:
    if isinstance(content, str):
        return LITERAL in content
    if not isinstance(content, list):
        return False
    for block in content:
        if not isinstance(block, MAPPINGS):
            continue
        kind = block.get("type")
        if kind == "text" and _text_holds_literal(block.get("text")):
            return True
        if kind == "tool_result" and _holds_literal(block.get("content")):
            return True
    return False


def _text_holds_literal(text: Any) -> bool:
    return isinstance(text, str) and LITERAL in text


def _rewrite(content: Any, container: Path, requests: list[ManualRequest]) -> list[Any]:
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    blocks: list[Any] = []
    for block in content:
        if not isinstance(block, MAPPINGS):
            blocks.append(block)
            continue
        kind = block.get("type")
        if kind == "text" and _text_holds_literal(block["text"]):
            _split(block, container, blocks, requests)
        elif kind == "tool_result" and _holds_literal(block.get("content")):
            blocks.append({**block, "content": _strip_result(block["content"])})
            requests.append(ManualRequest(container, len(blocks)))
        else:
            blocks.append(block)
    return blocks


def _split(
    block: Mapping[str, Any], container: Path, blocks: list[Any], requests: list[ManualRequest]
) -> None:
    parts = block["text"].split(LITERAL)
    base = {key: value for key, value in block.items() if key != "cache_control"}
    first_new = len(blocks)
    for position, part in enumerate(parts):
        if not is_blank(part):
            blocks.append({**base, "text": part})
        if position < len(parts) - 1:
            requests.append(ManualRequest(container, len(blocks)))
    caller_marker = block.get("cache_control")
    if caller_marker is not None and len(blocks) > first_new:
        # The caller's marker closed the whole block: it now closes its last part.
        blocks[-1]["cache_control"] = caller_marker


def _strip_result(content: Any) -> Any:
    if isinstance(content, str):
        return content.replace(LITERAL, "")
    stripped: list[Any] = []
    for item in content:
        if (
            isinstance(item, MAPPINGS)
            and item.get("type") == "text"
            and _text_holds_literal(item.get("text"))
        ):
            text = item["text"].replace(LITERAL, "")
            if not is_blank(text):
                stripped.append({**item, "text": text})
        else:
            stripped.append(item)
    return stripped
