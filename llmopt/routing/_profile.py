"""What a request needs from a model, read off the request itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from ._tasks import TaskKind, infer_task

# Characters per token for the routing estimate: English prose runs about 4; a lower
# figure over-estimates a little, so a request is never sent to a window it overflows.
CHARACTERS_PER_TOKEN = 3.5
IMAGE_TOKENS = 1_600


@dataclass(frozen=True, slots=True)
class RequestProfile:
    """One request as the router sees it.

    ``task_source`` says whether the caller named the task (``"caller"``) or it was
    inferred (``"inferred"``); ``tokens`` is the input estimate, ``output_tokens`` the
    output assumed for costing.
    """

    tokens: int
    output_tokens: int
    task: TaskKind
    task_source: str
    tools: bool = False
    vision: bool = False
    structured_output: bool = False
    privacy: str | None = None

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, needed in (
                ("tools", self.tools),
                ("vision", self.vision),
                ("structured output", self.structured_output),
            )
            if needed
        )


def profile_request(
    messages: Sequence[BaseMessage],
    kwargs: Mapping[str, Any],
    *,
    task: str | TaskKind | None = None,
    privacy: str | None = None,
    expected_output_tokens: int = 500,
) -> RequestProfile:
    """The profile of ``messages`` sent with call ``kwargs`` (tools, structured output ...).

    Raises ``ValueError`` for a task that is not a :class:`TaskKind`.
    """
    characters = 0
    images = 0
    last_user = ""
    tool_messages = False
    for message in messages:
        content = message.content
        if isinstance(content, str):
            characters += len(content)
            text = content
        else:
            text_parts = []
            for block in content:
                if isinstance(block, str):
                    text_parts.append(block)
                elif isinstance(block, dict):
                    kind = block.get("type")
                    if kind in ("image", "image_url") or "image_url" in block:
                        images += 1
                    elif isinstance(block.get("text"), str):
                        text_parts.append(block["text"])
            text = "".join(text_parts)
            characters += len(text)
        if isinstance(message, HumanMessage):
            last_user = text
        elif isinstance(message, ToolMessage) or getattr(message, "tool_calls", None):
            tool_messages = True
    tools = bool(kwargs.get("tools")) or tool_messages
    structured = bool(
        kwargs.get("ls_structured_output_format")
        or kwargs.get("response_format")
        or kwargs.get("format")
    )
    asked_max = kwargs.get("max_tokens") or kwargs.get("max_completion_tokens")
    output = expected_output_tokens
    if isinstance(asked_max, int) and 0 < asked_max < output:
        output = asked_max
    if task is not None:
        kind, source = TaskKind(task), "caller"
    else:
        kind, source = infer_task(last_user), "inferred"
    return RequestProfile(
        tokens=int(characters / CHARACTERS_PER_TOKEN) + images * IMAGE_TOKENS,
        output_tokens=output,
        task=kind,
        task_source=source,
        tools=tools,
        vision=images > 0,
        structured_output=structured,
        privacy=privacy,
    )
