"""Prompt engineering: task templates, few-shot examples, and cache-friendly assembly.

- :class:`PromptEngineer` builds prompts (:meth:`~PromptEngineer.build`, and the design
  documents' ``optimize_prompt``, ``add_context``, ``add_examples``,
  ``format_for_model``, ``estimate_tokens``) as an :class:`AssembledPrompt`: LangChain
  messages any chat model (``OptimizedLLMWrapper`` included) sends as they are, with
  the stable part's and the volatile part's token estimates.
- :class:`TaskTemplate` and ``TEMPLATES``: role and instructions per task (code,
  reasoning, chat, extraction, summarization); tasks are inferred with the router's
  rules (:func:`llmopt.routing.infer_task`).
- :class:`Example`, :class:`SimilarityScorer`, :class:`LexicalSimilarity`,
  :class:`EmbeddingSimilarity`: few-shot examples and how the nearest are chosen.
- :class:`ReferenceDocument`: a document a prompt quotes.

Why the order matters
=====================

Prompt caches (Anthropic's breakpoints, OpenAI's automatic caching) match a request's
prefix: one changed byte and everything after it is billed at the full price again. So
the assembly puts everything that recurs (role, instructions, output format, fixed
examples, documents) in the system prompt, sorted into a canonical order and free of
anything that varies (no timestamps, no set or dict order), and everything that changes
per request (chosen examples, context such as dates and ids, the question) in the user
turn after it. llmopt's planner (:func:`llmopt.caching.plan_breakpoints`) then marks the
end of the system prompt and every later call reads it from the cache.
``tests/benchmarks/bench_prompt_assembly.py`` measures the difference against a naive
assembly; ``docs/prompt-engineering.md`` shows the figures.

Only ``langchain_core`` (message types) and llmopt's own packages are imported.
"""

from __future__ import annotations

from llmopt.prompts._assembled import AssembledPrompt, PromptBlock, PromptRequest
from llmopt.prompts._documents import ReferenceDocument
from llmopt.prompts._engineer import PromptEngineer
from llmopt.prompts._examples import (
    EmbeddingSimilarity,
    Example,
    LexicalSimilarity,
    SimilarityScorer,
)
from llmopt.prompts._formats import family_of
from llmopt.prompts._instructions import output_instruction, schema_of
from llmopt.prompts._tasks import TEMPLATES, TaskTemplate, infer_prompt_task

__all__ = [
    "TEMPLATES",
    "AssembledPrompt",
    "EmbeddingSimilarity",
    "Example",
    "LexicalSimilarity",
    "PromptBlock",
    "PromptEngineer",
    "PromptRequest",
    "ReferenceDocument",
    "SimilarityScorer",
    "TaskTemplate",
    "family_of",
    "infer_prompt_task",
    "output_instruction",
    "schema_of",
]
