"""One assembled prompt in each model family's own shape.

=========  ===================================================================
family     shape
=========  ===================================================================
messages   LangChain messages: a ``SystemMessage`` and a ``HumanMessage``, each
           a list of text blocks (what ``OptimizedLLMWrapper`` sends as is)
claude     Anthropic's request fields: ``{"system": [text blocks], "messages":
           [{"role": "user", "content": [text blocks]}]}``
gpt        OpenAI Chat Completions messages: ``[{"role": "system", ...},
           {"role": "user", ...}]`` with the blocks joined by blank lines
llama3     the Llama 3 Instruct chat template as one string, ending with the
           assistant header so the model starts its answer
=========  ===================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from llmopt.prompts._problems import invalid

ModelFamily = Literal["messages", "claude", "gpt", "llama3"]

_FAMILY_NAMES: Final = {
    "messages": "messages",
    "langchain": "messages",
    "claude": "claude",
    "anthropic": "claude",
    "gpt": "gpt",
    "openai": "gpt",
    "llama": "llama3",
    "llama3": "llama3",
    "llama-3": "llama3",
}
_OPENAI_PREFIXES: Final = ("gpt-", "gpt", "chatgpt", "o1", "o3", "o4")
_OLD_LLAMAS: Final = ("llama2", "llama-2", "llama 2", "llama_2")

# Llama 3 Instruct's chat template, from Meta's "Model Cards & Prompt formats: Llama 3"
# (https://www.llama.com/docs/model-cards-and-prompt-formats/meta-llama-3/) and the
# chat_template of meta-llama/Meta-Llama-3-8B-Instruct's tokenizer_config.json:
#   <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>
#   <|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>
#   <|start_header_id|>assistant<|end_header_id|>\n\n
# (no line breaks between the parts; the two newlines after each header are part of the
# format; the template trims each message's content). Llama 3.1-3.3 keep the same tokens.
BEGIN_OF_TEXT: Final = "<|begin_of_text|>"
_HEADER: Final = "<|start_header_id|>{role}<|end_header_id|>\n\n"
EOT: Final = "<|eot_id|>"
LLAMA3_SPECIAL_TOKENS: Final = (
    BEGIN_OF_TEXT,
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    EOT,
    "<|eom_id|>",
    "<|python_tag|>",
)


def family_of(model_type: str) -> ModelFamily:
    """The family for ``model_type``: a family name (``claude``/``anthropic``,
    ``gpt``/``openai``, ``llama3``/``llama``, ``messages``/``langchain``) or a model name
    (``claude-sonnet-4-6``, ``gpt-4o``, ``llama3.1:8b``...).

    Raises :class:`~llmopt.errors.ConfigError` (on ``model_type``) for anything else.
    """
    if not isinstance(model_type, str) or not model_type.strip():
        raise invalid("model_type", "model_type must name a model or a model family")
    name = model_type.strip().lower()
    if name in _FAMILY_NAMES:
        return _FAMILY_NAMES[name]  # type: ignore[return-value]
    bare = name.rsplit("/", 1)[-1]
    if "claude" in bare:
        return "claude"
    if bare.startswith(_OPENAI_PREFIXES):
        return "gpt"
    if any(old in bare for old in _OLD_LLAMAS):
        raise invalid(
            "model_type",
            f"{model_type!r} is a Llama 2 model: only the Llama 3 chat template is known here",
        )
    if "llama" in bare:
        return "llama3"
    raise invalid(
        "model_type",
        f"no prompt format for {model_type!r}: use a Claude, GPT or Llama 3 model, or one of "
        "the families claude, gpt, llama3, messages",
    )


def _text_blocks(texts: Sequence[str]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text} for text in texts]


def as_messages(system: Sequence[str], user: Sequence[str]) -> list[BaseMessage]:
    """LangChain messages: the system blocks, then the user's."""
    return [
        SystemMessage(content=_text_blocks(system)),  # type: ignore[arg-type]
        HumanMessage(content=_text_blocks(user)),  # type: ignore[arg-type]
    ]


def as_anthropic(
    system: Sequence[str], user: Sequence[str], *, cache_control: bool = False
) -> dict[str, Any]:
    """Anthropic's ``system`` and ``messages`` fields; with ``cache_control``, a 5-minute
    breakpoint on the last system block (for callers that send without llmopt's planner)."""
    blocks = _text_blocks(system)
    if cache_control and blocks:
        blocks[-1]["cache_control"] = {"type": "ephemeral"}
    return {"system": blocks, "messages": [{"role": "user", "content": _text_blocks(user)}]}


def as_openai(system: Sequence[str], user: Sequence[str]) -> list[dict[str, str]]:
    """OpenAI chat messages; the stable system text first, so automatic caching (which
    matches from the first token) finds it."""
    return [
        {"role": "system", "content": "\n\n".join(system)},
        {"role": "user", "content": "\n\n".join(user)},
    ]


def as_llama3(system: Sequence[str], user: Sequence[str]) -> str:
    """The Llama 3 Instruct prompt string (see the comment above ``BEGIN_OF_TEXT``).

    Raises :class:`~llmopt.errors.ConfigError` (on ``prompt``) when the text holds one of
    Llama 3's special tokens: it would end a message early, and plain text cannot
    escape it.
    """
    system_text, user_text = "\n\n".join(system).strip(), "\n\n".join(user).strip()
    for token in LLAMA3_SPECIAL_TOKENS:
        if token in system_text or token in user_text:
            raise invalid(
                "prompt",
                f"the prompt holds Llama 3's special token {token!r}, which would break "
                "the chat template: remove it from the question, context or documents",
            )
    return (
        BEGIN_OF_TEXT
        + _HEADER.format(role="system")
        + system_text
        + EOT
        + _HEADER.format(role="user")
        + user_text
        + EOT
        + _HEADER.format(role="assistant")
    )
