"""``AssembledPrompt``: a prompt split into its stable prefix and its volatile tail.

The stable part (role, instructions, output format, fixed examples, reference
documents) is the system prompt, the same bytes on every call that shares it; the
volatile part (examples chosen for this question, per-request context, the question)
is the user turn after it. A prompt cache keyed on prefixes then finds the whole
system prompt on every call after the first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import BaseMessage

from llmopt.prompts._documents import ReferenceDocument
from llmopt.prompts._examples import Example
from llmopt.prompts._formats import as_anthropic, as_llama3, as_messages, as_openai
from llmopt.prompts._tasks import TaskTemplate

BlockKind = Literal["instructions", "examples", "documents", "selected_examples", "request"]


@dataclass(frozen=True, slots=True)
class PromptBlock:
    """One text block of a prompt and what it holds."""

    kind: BlockKind
    text: str


@dataclass(frozen=True, slots=True)
class PromptRequest:
    """What a prompt was built from, resolved; ``PromptEngineer`` rebuilds from it
    (``add_context``, ``add_examples``)."""

    question: str
    template: TaskTemplate
    role: str
    instructions: str
    chain_of_thought: bool
    output_schema: Mapping[str, Any] | None
    examples: tuple[Example, ...]
    examples_selected: bool
    documents: tuple[ReferenceDocument, ...]
    context: tuple[tuple[str, str], ...] | str
    model: str | None


@dataclass(frozen=True, slots=True)
class AssembledPrompt:
    """A prompt ready to send, stable parts first.

    ``messages`` is what to pass to a LangChain chat model (``OptimizedLLMWrapper``
    included); ``to_anthropic()``, ``to_openai()`` and ``to_llama3()`` give the same
    prompt in each provider's shape. ``stable_tokens`` and ``volatile_tokens`` are the
    estimated tokens of each part's text (``total_tokens`` adds the provider's
    per-message overheads); ``cache_minimum`` is the shortest prefix the model's
    provider caches, when llmopt knows it.
    """

    stable: tuple[PromptBlock, ...]
    volatile: tuple[PromptBlock, ...]
    task: str
    stable_tokens: int
    volatile_tokens: int
    total_tokens: int
    cache_minimum: int | None
    request: PromptRequest = field(repr=False)

    @property
    def messages(self) -> list[BaseMessage]:
        """A ``SystemMessage`` (the stable blocks) and a ``HumanMessage`` (the volatile
        ones); new objects on each access, so a caller may change them freely."""
        return as_messages(self._texts(self.stable), self._texts(self.volatile))

    @property
    def system_text(self) -> str:
        """The stable part as one string (blocks joined by blank lines)."""
        return "\n\n".join(self._texts(self.stable))

    @property
    def user_text(self) -> str:
        """The volatile part as one string (blocks joined by blank lines)."""
        return "\n\n".join(self._texts(self.volatile))

    @property
    def stable_fingerprint(self) -> str:
        """SHA-256 of the stable blocks: equal fingerprints, byte-identical prefixes."""
        encoded = json.dumps(self._texts(self.stable), ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()

    @property
    def prefix_cacheable(self) -> bool | None:
        """Whether the stable part reaches the provider's minimum cacheable length
        (``None`` when it is not known for the model)."""
        if self.cache_minimum is None:
            return None
        return self.stable_tokens >= self.cache_minimum

    def to_anthropic(self, *, cache_control: bool = False) -> dict[str, Any]:
        """Anthropic's ``system`` and ``messages`` request fields. ``cache_control`` puts
        a breakpoint at the end of the stable part, for a caller sending with the
        ``anthropic`` SDK directly (through llmopt, the planner places it)."""
        return as_anthropic(
            self._texts(self.stable), self._texts(self.volatile), cache_control=cache_control
        )

    def to_openai(self) -> list[dict[str, str]]:
        """OpenAI Chat Completions messages (system, then user)."""
        return as_openai(self._texts(self.stable), self._texts(self.volatile))

    def to_llama3(self) -> str:
        """The Llama 3 Instruct chat template, ready for a completion endpoint; raises
        :class:`~llmopt.errors.ConfigError` when the text holds a Llama special token."""
        return as_llama3(self._texts(self.stable), self._texts(self.volatile))

    @staticmethod
    def _texts(blocks: tuple[PromptBlock, ...]) -> list[str]:
        return [block.text for block in blocks]
