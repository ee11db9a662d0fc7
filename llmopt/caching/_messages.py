"""LangChain messages as a Messages request for the planner, and its breakpoints back on them.

The design's ``CacheManager.add_cache_markers(messages)`` takes and returns LangChain
messages, which ``ChatAnthropic`` then sends. The planner works on the request itself,
so the messages are laid out as one: system messages' blocks as ``system``, every other
message as one turn (a ``ToolMessage`` as a user turn holding its ``tool_result``),
block for block. Where the planner puts a ``cache_control``, the same block of the same
message gets it; ``ChatAnthropic`` passes content blocks' ``cache_control`` through
untouched. A marker on a ``tool_result`` goes on the tool message's last block, which
``ChatAnthropic`` lifts back onto the ``tool_result`` it builds. Only the marked
messages are copied; the caller's objects are left alone.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

_MARKER = "cache_control"


def is_message_list(value: object) -> bool:
    """Whether ``value`` is a sequence of LangChain messages (not a request payload)."""
    if "langchain_core.messages" not in sys.modules:
        return False  # nobody made a message: this package itself never loads LangChain
    from langchain_core.messages import BaseMessage

    return (
        isinstance(value, Sequence)
        and not isinstance(value, str | bytes)
        and all(isinstance(item, BaseMessage) for item in value)
    )


def as_request(messages: Sequence[BaseMessage], model: str) -> dict[str, Any]:
    """The request the planner reads for ``messages``, one block per content block."""
    from langchain_core.messages import AIMessage, SystemMessage, ToolMessage

    system: list[Any] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        blocks = _blocks(message.content)
        if isinstance(message, SystemMessage):
            system.extend(blocks)
        elif isinstance(message, ToolMessage):
            result = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": blocks}
            turns.append({"role": "user", "content": [result]})
        else:
            role = "assistant" if isinstance(message, AIMessage) else "user"
            turns.append({"role": role, "content": blocks})
    request: dict[str, Any] = {"model": model, "max_tokens": 1, "messages": turns}
    if system:
        request["system"] = system
    return request


def with_markers(messages: Sequence[BaseMessage], planned: Mapping[str, Any]) -> list[BaseMessage]:
    """``messages`` with the markers of ``planned`` (from :func:`as_request`) on their blocks.

    Where the planner changed a message's blocks beyond its markers (``manual`` mode
    splits text at ``[CACHE_BREAKPOINT]``), the message takes the planned blocks.
    """
    from langchain_core.messages import SystemMessage, ToolMessage

    system = list(planned.get("system") or ())
    turns = iter(planned.get("messages") or ())
    originals = [m for m in messages if isinstance(m, SystemMessage)]
    split_system = sum(len(_blocks(m.content)) for m in originals) != len(system)
    marked: list[BaseMessage] = []
    for message in messages:
        blocks = _blocks(message.content)
        planned_blocks: list[Any]
        if isinstance(message, SystemMessage):
            if split_system:
                # ChatAnthropic joins system messages anyway: the first takes them all.
                if message is originals[0]:
                    marked.append(message.model_copy(update={"content": system}))
                continue
            planned_blocks, system = system[: len(blocks)], system[len(blocks) :]
        else:
            turn: Mapping[str, Any] = next(turns, {})
            planned_blocks = list(turn.get("content") or [])
            if isinstance(message, ToolMessage):
                result = planned_blocks[0] if planned_blocks else {}
                planned_blocks = list(result.get("content") or [])
                marker = result.get(_MARKER)
                if marker is not None and planned_blocks:
                    # ChatAnthropic lifts a ToolMessage block's marker onto its tool_result.
                    planned_blocks[-1] = {**planned_blocks[-1], _MARKER: marker}
        if len(planned_blocks) != len(blocks):
            marked.append(message.model_copy(update={"content": planned_blocks}))
        else:
            marked.append(_copy_markers(message, blocks, planned_blocks))
    return marked


def _copy_markers(message: BaseMessage, blocks: list[Any], planned: list[Any]) -> BaseMessage:
    changed = False
    new_blocks: list[Any] = []
    for block, planned_block in zip(blocks, planned, strict=False):
        marker = planned_block.get(_MARKER) if isinstance(planned_block, Mapping) else None
        current = block.get(_MARKER) if isinstance(block, Mapping) else None
        if marker != current and isinstance(block, Mapping):
            block = {k: v for k, v in block.items() if k != _MARKER}
            if marker is not None:
                block[_MARKER] = dict(marker)
            changed = True
        new_blocks.append(block)
    if not changed:
        return message
    return message.model_copy(update={"content": new_blocks + blocks[len(new_blocks) :]})


def _blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [{"type": "text", "text": item} if isinstance(item, str) else item for item in content]
