"""Scripted skill: which model answers which task well, for orchestration and quality tests.

A request whose last user text holds a quiz marker, ``[quiz <task> answer=<value>]``
(``What is 17 + 25? [quiz arithmetic answer=42]``), is answered ``The answer is 42.``
by a model that gets it right, and with a wrong value of the same kind by one that does
not. How often a model gets a task right is scripted per model:

    sandbox.set_skills({"claude-haiku-*": {"arithmetic": 0.6, "*": 0.8},
                        "claude-sonnet-*": {"*": 0.97}})

Model names are globs, tried in order; a task not named takes the model's ``"*"``, and a
model not named answers every quiz right. Whether one request is answered right is drawn
from the request's own fingerprint (the same request always gets the same answer), so
over many different questions the share answered right is the scripted accuracy, and a
run can be repeated exactly. Requests without a marker are answered as before. The
Messages API, Chat Completions and Ollama's chat apply it; Message Batches do not.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import threading
from collections.abc import Mapping

QUIZ = re.compile(r"\[quiz (?P<task>[\w.-]+) answer=(?P<answer>[^\]]+)\]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class Skills:
    """Per-model accuracy by task; thread-safe. See the module docstring."""

    def __init__(self, table: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self._lock = threading.Lock()
        self._table: list[tuple[str, dict[str, float]]] = []
        self.set(table or {})

    def set(self, table: Mapping[str, Mapping[str, float]]) -> None:
        """Replace the table. Raises ``ValueError`` for an accuracy outside 0..1 or a
        value that is not a number."""
        checked: list[tuple[str, dict[str, float]]] = []
        for pattern, tasks in table.items():
            if not isinstance(tasks, Mapping):
                raise ValueError(f"skills[{pattern!r}] must map tasks to accuracies")
            row: dict[str, float] = {}
            for task, accuracy in tasks.items():
                if isinstance(accuracy, bool) or not isinstance(accuracy, int | float):
                    raise ValueError(f"skills[{pattern!r}][{task!r}]: {accuracy!r} is not a number")
                value = float(accuracy)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"skills[{pattern!r}][{task!r}]: {value} is not in 0..1")
                row[str(task)] = value
            checked.append((str(pattern), row))
        with self._lock:
            self._table = checked

    def table(self) -> dict[str, dict[str, float]]:
        """The table in force, as set."""
        with self._lock:
            return {pattern: dict(tasks) for pattern, tasks in self._table}

    def accuracy(self, model: str, task: str) -> float:
        """How often ``model`` answers a ``task`` quiz right."""
        with self._lock:
            for pattern, tasks in self._table:
                if fnmatch.fnmatchcase(model, pattern):
                    return tasks.get(task, tasks.get("*", 1.0))
        return 1.0


def quiz_answer(text: str, *, model: str, skills: Skills, seed: bytes) -> str | None:
    """The reply to a quiz in ``text`` (``None`` without a marker): right or wrong as
    ``model``'s scripted accuracy and the request's ``seed`` decide."""
    found = QUIZ.search(text)
    if found is None:
        return None
    task, answer = found["task"], found["answer"].strip()
    draw = int.from_bytes(hashlib.sha256(b"quiz" + seed).digest()[:8], "big") / 2**64
    if draw < skills.accuracy(model, task):
        return f"The answer is {answer}."
    return f"The answer is {_wrong(answer, seed)}."


def _wrong(answer: str, seed: bytes) -> str:
    """A wrong value of the same kind: another number for a number, else another word."""
    offset = 1 + hashlib.sha256(b"wrong" + seed).digest()[0] % 9
    if _NUMBER.fullmatch(answer):
        if "." in answer:
            return f"{float(answer) + offset / 10:g}"
        return str(int(answer) + offset)
    return f"not {answer}"
