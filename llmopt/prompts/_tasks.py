"""Task templates: the role and instructions each kind of task starts from.

Five built in, keyed by name; ``task=`` takes one of these names (or a
:class:`~llmopt.routing.TaskKind`), or a :class:`TaskTemplate` of the caller's own:

=============  ===============================================  ================
task           role                                             step by step
=============  ===============================================  ================
code           a senior software engineer                       no
reasoning      a careful analyst; ends with an ``Answer:`` line  yes
chat           a helpful, knowledgeable assistant                no
extraction     a meticulous data-extraction system               no
summarization  an editor who writes faithful summaries           no
=============  ===============================================  ================

Without ``task=`` the task is inferred from the question by the router's rules
(:func:`llmopt.routing.infer_task`); the router has no summarisation kind, so a question
it reads as chat that asks for a summary, a TL;DR or an abstract becomes
``summarization`` here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from llmopt.prompts._problems import invalid
from llmopt.routing import TaskKind, infer_task


@dataclass(frozen=True, slots=True)
class TaskTemplate:
    """The stable opening of a prompt for one kind of task.

    ``role`` frames who answers ("You are ..."), ``instructions`` say how to answer,
    and ``chain_of_thought`` whether the prompt asks for step-by-step reasoning unless
    the call says otherwise. Pass one as ``task=`` or in ``PromptEngineer(templates=)``.
    """

    name: str
    role: str
    instructions: str
    chain_of_thought: bool = False


SUMMARIZATION = "summarization"

TEMPLATES: Final[Mapping[str, TaskTemplate]] = {
    TaskKind.CODE.value: TaskTemplate(
        name=TaskKind.CODE.value,
        role="You are a senior software engineer who writes correct, idiomatic, tested code.",
        instructions=(
            "Answer with working code in fenced blocks that name their language. State any "
            "assumption you make about the environment or the input. Handle edge cases and "
            "errors explicitly. Keep explanations short and put them after the code."
        ),
    ),
    TaskKind.REASONING.value: TaskTemplate(
        name=TaskKind.REASONING.value,
        role="You are a careful analyst who reasons precisely and checks every step.",
        instructions=(
            "Work only from the information given and say what is missing if the question "
            "cannot be answered from it. End with the final answer on its own line, "
            "starting with 'Answer:'."
        ),
        chain_of_thought=True,
    ),
    TaskKind.CHAT.value: TaskTemplate(
        name=TaskKind.CHAT.value,
        role="You are a helpful, knowledgeable assistant.",
        instructions=(
            "Answer clearly and concisely. If the request is ambiguous, ask one clarifying "
            "question instead of guessing. Say so when you do not know."
        ),
    ),
    TaskKind.EXTRACTION.value: TaskTemplate(
        name=TaskKind.EXTRACTION.value,
        role="You are a meticulous data-extraction system.",
        instructions=(
            "Extract exactly what the text states. Do not infer, normalise or invent values; "
            "use null for anything the text does not give. Keep the source's spelling of "
            "names and the units of numbers."
        ),
    ),
    SUMMARIZATION: TaskTemplate(
        name=SUMMARIZATION,
        role="You are an expert editor who writes faithful, concise summaries.",
        instructions=(
            "Summarise the text: keep its key facts, figures and conclusions, add nothing "
            "that is not in it, and keep the summary much shorter than the source. Prefer "
            "plain sentences to bullet points unless asked otherwise."
        ),
    ),
}

_ALIASES: Final[Mapping[str, str]] = {
    "summarisation": SUMMARIZATION,
    "summary": SUMMARIZATION,
    "summarize": SUMMARIZATION,
    "summarise": SUMMARIZATION,
}

_SUMMARY = re.compile(r"\b(?:summari[sz]e|summary|summari[sz]ation|tl;?dr|abstract|recap)\b")


def infer_prompt_task(text: str) -> str:
    """The task name for a question that does not say (see the module's table)."""
    kind = infer_task(text)
    if kind is TaskKind.CHAT and _SUMMARY.search(text[:3_000].lower()):
        return SUMMARIZATION
    return kind.value


def task_name(task: object, *, argument: str = "task") -> str:
    """The canonical name of ``task`` (a name, an alias such as ``summarisation``, or a
    ``TaskKind``). Raises :class:`~llmopt.errors.ConfigError` for anything else."""
    if not isinstance(task, str) or not task.strip():
        kind = type(task).__name__
        raise invalid(argument, f"{argument} must be a task name or a TaskTemplate, not {kind}")
    name = str(task.value if isinstance(task, TaskKind) else task).strip().lower()
    return _ALIASES.get(name, name)


def resolve_template(
    task: str | TaskTemplate | None,
    question: str,
    templates: Mapping[str, TaskTemplate],
) -> TaskTemplate:
    """The template for ``task`` (inferred from ``question`` when ``None``).

    Raises :class:`~llmopt.errors.ConfigError` (on ``task``) for a name no template has.
    """
    if isinstance(task, TaskTemplate):
        return task
    name = infer_prompt_task(question) if task is None else task_name(task)
    template = templates.get(name)
    if template is None:
        known = ", ".join(sorted(templates))
        raise invalid("task", f"task {task!r} has no template; known tasks: {known}")
    return template
