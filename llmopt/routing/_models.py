"""What a model can take: context window, tools, images, structured output, local or not.

Data, checked on ``FACTS_CHECKED`` from the providers' model pages (Anthropic's models
overview; OpenAI's model pages; the Ollama library). An entry's
``configuration.routing`` overrides any of them (``contextWindow``, ``tools``,
``vision``, ``structuredOutput``, ``local``), and ``configuration.contextLength``
(Ollama's ``num_ctx``) sets an Ollama entry's window. A model the table does not know
is assumed to take tools and structured output but no images, with an unknown window
(a request of any length may go to it); say otherwise in its entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

FACTS_CHECKED = date(2026, 12, 6)

# Ollama's num_ctx when a request does not set it (the server's default window).
OLLAMA_DEFAULT_CONTEXT = 4_096


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What one model takes. ``context_window`` ``None`` means unknown (no limit applied)."""

    context_window: int | None
    tools: bool = True
    vision: bool = False
    structured_output: bool = True
    local: bool = False


# (provider, model pattern) -> facts; first match wins.
_TABLE: tuple[tuple[str, re.Pattern[str], ModelFacts], ...] = (
    ("anthropic", re.compile(r"claude-(?:opus|sonnet)-(?:4|5)"), ModelFacts(200_000, vision=True)),
    ("anthropic", re.compile(r"claude-haiku-4"), ModelFacts(200_000, vision=True)),
    ("anthropic", re.compile(r"claude-"), ModelFacts(200_000, vision=True)),
    ("openAI", re.compile(r"gpt-5"), ModelFacts(400_000, vision=True)),
    ("openAI", re.compile(r"gpt-4\.1"), ModelFacts(1_047_576, vision=True)),
    ("openAI", re.compile(r"gpt-4o"), ModelFacts(128_000, vision=True)),
    ("openAI", re.compile(r"o[134](?:-|$)"), ModelFacts(200_000, vision=True)),
    ("ollama", re.compile(r"llava|vision|vl\b|vl:|gemma3"), ModelFacts(None, vision=True)),
    ("ollama", re.compile(r"llama3\.[123]|qwen[23]|mistral|command-r|granite"), ModelFacts(None)),
    ("ollama", re.compile(r""), ModelFacts(None, tools=False)),
)
_LOCAL_PROVIDERS = frozenset({"ollama"})
_UNKNOWN = ModelFacts(None)


def model_facts(
    provider: str,
    model: str,
    routing: dict[str, object] | None = None,
    *,
    context_length: object = None,
) -> ModelFacts:
    """The facts for ``model`` on ``provider``, with an entry's overrides applied."""
    facts = next(
        (f for p, pattern, f in _TABLE if p == provider and pattern.search(model)), _UNKNOWN
    )
    local = provider in _LOCAL_PROVIDERS
    window = facts.context_window
    if provider == "ollama":
        window = context_length if isinstance(context_length, int) else OLLAMA_DEFAULT_CONTEXT
    routing = routing or {}
    return ModelFacts(
        context_window=_int_or(routing.get("contextWindow"), window),
        tools=_bool_or(routing.get("tools"), facts.tools),
        vision=_bool_or(routing.get("vision"), facts.vision),
        structured_output=_bool_or(routing.get("structuredOutput"), facts.structured_output),
        local=_bool_or(routing.get("local"), local),
    )


def _int_or(value: object, default: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _bool_or(value: object, default: bool) -> bool:
    return value if isinstance(value, bool) else default
