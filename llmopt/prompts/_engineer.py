"""``PromptEngineer``: builds prompts from task templates, examples, documents and the
request, stable parts first, so a prompt cache finds long shared prefixes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any, Final

from langchain_core.messages import BaseMessage

from llmopt.errors import ConfigError
from llmopt.prompts._assembled import AssembledPrompt, PromptBlock, PromptRequest
from llmopt.prompts._documents import ReferenceDocument, documents_of, render_documents
from llmopt.prompts._examples import (
    EmbeddingSimilarity,
    Example,
    LexicalSimilarity,
    SimilarityScorer,
    examples_of,
    render_examples,
    select_examples,
)
from llmopt.prompts._formats import family_of
from llmopt.prompts._instructions import (
    CHAIN_OF_THOUGHT,
    CHAIN_OF_THOUGHT_BEFORE_JSON,
    OutputSchema,
    output_instruction,
    schema_of,
)
from llmopt.prompts._problems import invalid
from llmopt.prompts._tasks import TEMPLATES, TaskTemplate, resolve_template, task_name
from llmopt.providers import ProviderCapabilities
from llmopt.routing import TaskKind
from llmopt.tokens import TokenCounter

ContextValue = Mapping[str, Any] | str
"""Per-request context: ``{"date": ..., "request_id": ...}`` or a paragraph of text."""

COUNTING_MODEL: Final = "claude-sonnet-4-6"
"""The model whose counting estimates a prompt built without ``model``."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Final = _Unset()


class PromptEngineer:
    """Builds prompts from a task template, role, instructions, few-shot examples,
    reference documents and the request, in the order a prompt cache rewards.

    Configure one per application (its long ``instructions``, its ``examples``
    library, its ``documents``), then call :meth:`build` per request and send
    ``.messages``::

        engineer = PromptEngineer(instructions=POLICY, examples=EXAMPLES, max_examples=4)
        prompt = engineer.build(question, context={"date": today, "request_id": rid})
        answer = model.invoke(prompt.messages)

    What goes where (the system prompt is the stable prefix, the same bytes whenever
    the call shares it; the user turn is volatile):

    ==================================================  =================================
    part                                                where
    ==================================================  =================================
    role, task template, instructions, chain of         system, first block
    thought, output format (JSON schema)
    examples, when all of them are used                 system, sorted (input, output)
    reference documents                                 system, sorted (title, text)
    examples chosen for this question (``max_examples``  user turn, first block, in the
    below the pool's size)                              pool's order
    per-request ``context``, then the question          user turn, last block
    ==================================================  =================================

    ``canonical_order=False`` keeps examples and documents in the order given (the same
    set in another order then gives another prefix). Examples in the library may carry
    a ``task``; a prompt gets those of its task and those without one. ``scorer``
    chooses examples (default :class:`LexicalSimilarity`; ``embeddings``, any LangChain
    ``Embeddings``, gives :class:`EmbeddingSimilarity`). ``model`` is the default for
    token estimates and the cache minimum; ``token_counter`` counts (a new
    :class:`~llmopt.tokens.TokenCounter` by default). ``templates`` add to or replace the
    built-in ones by name.

    Every method raises :class:`~llmopt.errors.ConfigError` (a ``ValueError``) for input
    it cannot use, naming the argument; nothing is logged or sent.
    """

    def __init__(
        self,
        *,
        instructions: str = "",
        role: str | None = None,
        examples: Iterable[Any] | Mapping[str, Iterable[Any]] = (),
        documents: Iterable[Any] = (),
        max_examples: int | None = None,
        scorer: SimilarityScorer | None = None,
        embeddings: Any | None = None,
        templates: Mapping[str, TaskTemplate] | None = None,
        model: str | None = None,
        token_counter: TokenCounter | None = None,
        canonical_order: bool = True,
    ) -> None:
        self.instructions = _text_or_empty(instructions, "instructions")
        self.role = None if role is None else _required_text(role, "role")
        self.canonical_order = bool(canonical_order)
        self.examples = tuple(self._library(examples))
        self.documents = tuple(self._ordered_documents(documents_of(documents)))
        self.max_examples = _max_examples(max_examples)
        if scorer is not None and embeddings is not None:
            raise invalid("scorer", "pass scorer or embeddings, not both")
        if scorer is not None and not isinstance(scorer, SimilarityScorer):
            raise invalid("scorer", "scorer must have a scores(query, candidates) method")
        self.scorer: SimilarityScorer = (
            EmbeddingSimilarity(embeddings)
            if embeddings is not None
            else scorer or LexicalSimilarity()
        )
        self.templates: dict[str, TaskTemplate] = dict(TEMPLATES)
        for name, template in (templates or {}).items():
            if not isinstance(template, TaskTemplate):
                raise invalid("templates", f"templates[{name!r}] must be a TaskTemplate")
            self.templates[task_name(name, argument="templates")] = template
        self.model = model
        self.counter = token_counter or TokenCounter()

    # -- the main API ------------------------------------------------------------------

    def build(
        self,
        question: str,
        *,
        task: str | TaskKind | TaskTemplate | None = None,
        context: ContextValue | None = None,
        examples: Iterable[Any] | None = None,
        documents: Iterable[Any] | None = None,
        output_schema: OutputSchema | None = None,
        chain_of_thought: bool | None = None,
        role: str | None = None,
        instructions: str | None = None,
        max_examples: int | None | _Unset = _UNSET,
        model: str | None = None,
    ) -> AssembledPrompt:
        """The prompt for ``question``, stable parts first (see the class's table).

        ``task`` picks the template (a name such as ``"code"``, a ``TaskKind``, or a
        :class:`TaskTemplate`); inferred from the question when left out. ``context``
        holds what changes per request (dates, ids, user data): it goes after every
        stable part, just before the question. ``examples``/``documents`` replace the
        engineer's for this call (``[]`` for none); ``max_examples`` overrides the
        engineer's limit (``None``: all). ``output_schema`` (a JSON schema dict or a
        pydantic model class) asks for one JSON object. ``chain_of_thought`` overrides
        the template's; ``role`` and ``instructions`` the engineer's. ``model`` sets the
        token counting and the cache minimum.

        Raises :class:`~llmopt.errors.ConfigError` for a bad argument (an empty
        question, an unknown task, a malformed example, document, context or schema).
        """
        question = _required_text(question, "question")
        template = resolve_template(task, question, self.templates)
        if chain_of_thought is None:
            chain_of_thought = template.chain_of_thought
        elif not isinstance(chain_of_thought, bool):
            raise invalid("chain_of_thought", "chain_of_thought must be True, False or None")
        limit = (
            self.max_examples if isinstance(max_examples, _Unset) else _max_examples(max_examples)
        )
        pool = (
            self._pool(template.name)
            if examples is None
            else self._ordered_examples(examples_of(examples))
        )
        chosen = select_examples(question, pool, limit, self.scorer) if limit is not None else pool
        chosen_role = self.role if role is None else _required_text(role, "role")
        request = PromptRequest(
            question=question,
            template=template,
            role=template.role if chosen_role is None else chosen_role,
            instructions=self.instructions
            if instructions is None
            else _text_or_empty(instructions, "instructions"),
            chain_of_thought=chain_of_thought,
            output_schema=None if output_schema is None else schema_of(output_schema),
            examples=tuple(chosen),
            examples_selected=len(chosen) < len(pool),
            documents=self.documents
            if documents is None
            else tuple(self._ordered_documents(documents_of(documents))),
            context=_context_of(context),
            model=self._model_name(model),
        )
        return self._assemble(request)

    def select_examples(
        self, question: str, *, task: str | TaskKind | None = None, k: int | None = None
    ) -> list[Example]:
        """The library's examples for ``task`` (inferred from ``question`` when left
        out) nearest ``question``: ``k`` of them (default ``max_examples``; ``None``
        all), in the library's order."""
        question = _required_text(question, "question")
        template = resolve_template(task, question, self.templates)
        pool = self._pool(template.name)
        limit = self.max_examples if k is None else _max_examples(k, argument="k")
        return select_examples(question, pool, limit, self.scorer) if limit is not None else pool

    # -- the design documents' names ------------------------------------------------------

    def optimize_prompt(self, raw_prompt: str) -> AssembledPrompt:
        """``raw_prompt`` as a full prompt: its task inferred, that task's template, the
        engineer's instructions, examples and documents (``build(raw_prompt)``)."""
        return self.build(_required_text(raw_prompt, "raw_prompt"))

    def add_context(self, prompt: AssembledPrompt | str, context: ContextValue) -> AssembledPrompt:
        """``prompt`` with ``context`` added to its per-request context (a key given
        again takes the new value); the stable part is unchanged."""
        if isinstance(prompt, str):
            return self.build(prompt, context=context)
        request = _request_of(prompt)
        added = _context_of(context)
        return self._assemble(replace(request, context=_merged(request.context, added)))

    def add_examples(
        self, prompt: AssembledPrompt | str, task_type: str | TaskKind
    ) -> AssembledPrompt:
        """``prompt`` with the library's examples for ``task_type`` in place of its own,
        chosen by similarity to its question when there are more than ``max_examples``.

        Raises :class:`~llmopt.errors.ConfigError` (on ``task_type``) when the library
        has none for that task.
        """
        if isinstance(prompt, str):
            prompt = self.build(prompt, examples=[])
        request = _request_of(prompt)
        name = resolve_template(task_type, request.question, self.templates).name
        pool = self._pool(name)
        if not pool:
            raise invalid(
                "task_type",
                f"the engineer has no examples for task {name!r}: pass examples= to "
                "PromptEngineer (an Example's task says which task it serves)",
            )
        limit = self.max_examples
        chosen = (
            select_examples(request.question, pool, limit, self.scorer)
            if limit is not None
            else pool
        )
        return self._assemble(
            replace(request, examples=tuple(chosen), examples_selected=len(chosen) < len(pool))
        )

    def format_for_model(
        self, prompt: AssembledPrompt | str, model_type: str
    ) -> list[BaseMessage] | dict[str, Any] | list[dict[str, str]] | str:
        """``prompt`` in ``model_type``'s shape: Anthropic's ``{"system", "messages"}``
        fields for Claude, OpenAI chat messages for GPT, the Llama 3 chat template string
        for Llama, LangChain messages for ``"messages"`` (see ``llmopt.prompts._formats``).
        A string is built first (:meth:`optimize_prompt`).

        Raises :class:`~llmopt.errors.ConfigError` for a model type with no known format.
        """
        family = family_of(model_type)
        if isinstance(prompt, str):
            prompt = self.optimize_prompt(prompt)
        if family == "claude":
            return prompt.to_anthropic()
        if family == "gpt":
            return prompt.to_openai()
        if family == "llama3":
            return prompt.to_llama3()
        return prompt.messages

    def estimate_tokens(self, prompt: AssembledPrompt | str | Sequence[BaseMessage]) -> int:
        """The input tokens of ``prompt``: an assembled prompt's ``total_tokens``, a
        string's text tokens, or a message list's tokens with overheads (for the
        engineer's ``model``; an estimate unless the counter is exact for it)."""
        if isinstance(prompt, AssembledPrompt):
            return prompt.total_tokens
        model = self._model_name(None) or COUNTING_MODEL
        if isinstance(prompt, str):
            return self.counter.count_tokens(prompt, model)
        try:
            return self.counter.count_messages(list(prompt), model)
        except TypeError as exc:
            raise invalid("prompt", f"cannot count this prompt: {exc}") from exc

    # -- assembling --------------------------------------------------------------------

    def _assemble(self, request: PromptRequest) -> AssembledPrompt:
        stable = [PromptBlock("instructions", _instruction_text(request))]
        volatile: list[PromptBlock] = []
        if request.examples:
            if request.examples_selected:
                volatile.append(PromptBlock("selected_examples", render_examples(request.examples)))
            else:
                stable.append(PromptBlock("examples", render_examples(request.examples)))
        if request.documents:
            stable.append(PromptBlock("documents", render_documents(request.documents)))
        volatile.append(PromptBlock("request", _request_text(request)))
        model = request.model or COUNTING_MODEL
        count = self.counter.count_tokens
        assembled = AssembledPrompt(
            stable=tuple(stable),
            volatile=tuple(volatile),
            task=request.template.name,
            stable_tokens=sum(count(block.text, model) for block in stable),
            volatile_tokens=sum(count(block.text, model) for block in volatile),
            total_tokens=0,
            cache_minimum=_cache_minimum(request.model),
            request=request,
        )
        return replace(
            assembled, total_tokens=self.counter.count_messages(assembled.messages, model)
        )

    def _library(self, examples: Iterable[Any] | Mapping[str, Iterable[Any]]) -> list[Example]:
        if isinstance(examples, Mapping):
            found: list[Example] = []
            for task, listed in examples.items():
                name = task_name(task, argument="examples")
                for example in examples_of(listed, argument=f"examples[{task!r}]"):
                    found.append(replace(example, task=name))
            return self._ordered_examples(found)
        listed = examples_of(examples)
        return self._ordered_examples(
            [
                e if e.task is None else replace(e, task=task_name(e.task, argument="examples"))
                for e in listed
            ]
        )

    def _pool(self, task: str) -> list[Example]:
        return [e for e in self.examples if e.task is None or e.task == task]

    def _ordered_examples(self, examples: list[Example]) -> list[Example]:
        if not self.canonical_order:
            return examples
        unique = {(e.input, e.output, e.task or ""): e for e in examples}
        return [unique[key] for key in sorted(unique)]

    def _ordered_documents(self, documents: list[ReferenceDocument]) -> list[ReferenceDocument]:
        if not self.canonical_order:
            return documents
        return sorted(set(documents), key=lambda d: (d.title, d.text))

    def _model_name(self, model: str | None) -> str | None:
        model = model if model is not None else self.model
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise invalid("model", "model must name a model")
        return model


def _instruction_text(request: PromptRequest) -> str:
    parts = [request.role, request.template.instructions, request.instructions]
    if request.chain_of_thought:
        schema = request.output_schema is not None
        parts.append(CHAIN_OF_THOUGHT_BEFORE_JSON if schema else CHAIN_OF_THOUGHT)
    if request.output_schema is not None:
        parts.append(output_instruction(request.output_schema))
    return "\n\n".join(part for part in parts if part)


def _request_text(request: PromptRequest) -> str:
    context = request.context
    if not context:
        return request.question
    if isinstance(context, str):
        body = context
    else:
        body = "\n".join(f"{key}: {value}" for key, value in context)
    return f"<context>\n{body}\n</context>\n\n{request.question}"


def _context_of(context: object) -> tuple[tuple[str, str], ...] | str:
    if context is None:
        return ()
    if isinstance(context, str):
        return context.strip()
    if not isinstance(context, Mapping):
        kind = type(context).__name__
        raise invalid("context", f"context must be a mapping or a string, not {kind}")
    pairs: list[tuple[str, str]] = []
    for key, value in context.items():
        if not isinstance(key, str) or not key.strip():
            raise invalid("context", f"context keys must be non-empty strings, not {key!r}")
        pairs.append((key.strip(), _context_value(value)))
    return tuple(pairs)


def _context_value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError) as exc:
        raise invalid("context", f"a context value cannot be written as text: {exc}") from exc


def _merged(
    old: tuple[tuple[str, str], ...] | str, new: tuple[tuple[str, str], ...] | str
) -> tuple[tuple[str, str], ...] | str:
    if not old:
        return new
    if not new:
        return old
    if isinstance(old, str) or isinstance(new, str):
        return "\n".join(_as_lines(part) for part in (old, new))
    merged = dict(old)
    merged.update(new)
    return tuple(merged.items())


def _as_lines(context: tuple[tuple[str, str], ...] | str) -> str:
    if isinstance(context, str):
        return context
    return "\n".join(f"{key}: {value}" for key, value in context)


def _request_of(prompt: object) -> PromptRequest:
    if not isinstance(prompt, AssembledPrompt):
        kind = type(prompt).__name__
        raise invalid("prompt", f"prompt must be an AssembledPrompt or a string, not {kind}")
    return prompt.request


def _required_text(value: object, argument: str) -> str:
    if not isinstance(value, str):
        raise invalid(argument, f"{argument} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise invalid(argument, f"{argument} is empty")
    return value.strip()


def _text_or_empty(value: object, argument: str) -> str:
    if not isinstance(value, str):
        raise invalid(argument, f"{argument} must be a string, not {type(value).__name__}")
    return value.strip()


def _max_examples(value: object, *, argument: str = "max_examples") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(argument, f"{argument} must be a whole number of examples (0 or more)")
    return value


def _cache_minimum(model: str | None) -> int | None:
    if model is None:
        return None
    try:
        family = family_of(model)
    except ConfigError:
        return None
    if family == "claude":
        return ProviderCapabilities.detect("anthropic", model).min_cacheable_tokens
    if family == "gpt":
        return ProviderCapabilities.detect("openAI", model).min_cacheable_tokens
    return None
