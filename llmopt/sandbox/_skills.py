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

Three task names ask for a task-shaped answer instead of ``The answer is <value>.``, so
that :class:`llmopt.quality.LLMQualityMonitor` has something to check:

========  ==========================  ==========================  =========================
task      ``answer=``                 right reply                 wrong reply (one of)
========  ==========================  ==========================  =========================
python    a Python literal            a fenced ```python block:   the same block with a
          (``42``, ``'Ada'``)         ``def solve():`` returning  syntax error: a missing
                                      the value                   colon, an unclosed
                                                                  parenthesis or a bad
                                                                  indent
json      a JSON object               that object in a fenced     a required field left
          (``{"name": "Ada",          ```json block               out, a field of the
          "year": 1815}``; it may                                 wrong type (a number as
          hold ``]``)                                             a string, a string as
                                                                  null), or the record in
                                                                  prose as a Python dict
                                                                  (not JSON)
rag       the fact (``1889``,         the sentence of the         a confident claim with a
          ``Gustave Eiffel``), which  question's text that        wrong value, a date and
          the question's context      states the fact, quoted     names that the question's
          states                                                  text does not hold
========  ==========================  ==========================  =========================

Any other task (``arithmetic``), a ``json`` value that is not a JSON object, or a
``rag`` fact the question's text does not state gets the plain ``The answer is ...``
reply. Which wrong shape a request gets is drawn from its fingerprint too.

These wrong answers are detectable by construction: broken syntax, a schema violation,
numbers and names absent from the context. A real model's wrong answers are often
well-formed (code that parses but computes the wrong thing, a valid record with a wrong
value, a claim paraphrasing the wrong passage), which syntax, schema and support checks
cannot see. A cascade measured on these tasks shows what the monitor buys on the
failures it can catch, not on all failures.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence

# A JSON object value may hold "]" (arrays); it ends at the "}" just before the "]".
QUIZ = re.compile(r"\[quiz (?P<task>[\w.-]+) answer=(?P<answer>\{[^\n]*?\}(?=\])|[^\]]+)\]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


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
    right = draw < skills.accuracy(model, task)
    shaped = _SHAPED.get(task)
    reply = shaped(text, answer, right, seed) if shaped is not None else None
    if reply is not None:
        return reply
    if right:
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


def _pick(seed: bytes, salt: bytes, count: int) -> int:
    return hashlib.sha256(salt + seed).digest()[0] % count


def _python(text: str, answer: str, right: bool, seed: bytes) -> str | None:
    lines = [
        "def solve():",
        '    """Return the answer."""',
        f"    result = {answer}",
        "    return result",
    ]
    if not right:
        flaw = _pick(seed, b"python", 3)
        if flaw == 0:
            lines[0] = "def solve()"  # missing colon
        elif flaw == 1:
            lines[2] = f"    result = ({answer}"  # unclosed parenthesis
        else:
            lines[3] = "      return result"  # bad indent
    code = "\n".join(lines)
    return f"Here is the function:\n\n```python\n{code}\n```"


def _json(text: str, answer: str, right: bool, seed: bytes) -> str | None:
    try:
        record = json.loads(answer)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    if right:
        return f"```json\n{json.dumps(record, indent=2, ensure_ascii=False)}\n```"
    keys = sorted(record)
    flaw = _pick(seed, b"json", 3) if keys else 2
    if flaw < 2:
        key = keys[_pick(seed, b"json-field", len(keys))]
        broken = dict(record)
        if flaw == 0:
            del broken[key]  # a required field left out
        else:
            broken[key] = _wrong_type(record[key])
        return f"```json\n{json.dumps(broken, indent=2, ensure_ascii=False)}\n```"
    # Prose around a Python dict: single quotes, True/None, not JSON.
    return f"Sure! Here is the extracted record: {record!r}. Let me know if you need more."


def _wrong_type(value: object) -> object:
    if isinstance(value, bool | int | float):
        return json.dumps(value)  # a number (or a boolean) as a string
    if isinstance(value, str):
        return None
    return json.dumps(value)


def _rag(text: str, answer: str, right: bool, seed: bytes) -> str | None:
    asked = QUIZ.sub("", text)
    stating = [
        s.strip()
        for line in asked.splitlines()
        for s in _SENTENCE_END.split(line)
        if _states(s, answer)
    ]
    if not stating:
        return None
    if right:
        return f'According to the context: "{_LABEL.sub("", stating[0])}"'
    if _NUMBER.fullmatch(answer):
        wrong = _absent(_numbers_near(_wrong(answer, seed)), text)
    else:
        wrong = _absent(_rotated(_NAMES, seed, b"name"), text)
    year = _absent(_rotated([str(year) for year in range(1900, 2000)], seed, b"year"), text)
    source = _absent(_rotated(_SOURCES, seed, b"source"), text)
    templates = (
        f"The answer is {wrong}, as the {year} survey by the {source} recorded.",
        f"It was {wrong}; the {source} confirmed this in {year} after a later audit.",
        f"Records of the {source} from {year} give {wrong}.",
    )
    return templates[_pick(seed, b"rag", len(templates))]


_LABEL = re.compile(r"^\w+:\s+")  # "Context: " before the quoted sentence
# Invented, so that a question's context never states them (checked all the same).
_NAMES = ("Henrietta Vasquez", "Tomasz Okafor", "Ingrid Lindqvist", "Rafael Moreau", "Yuki Brandt")
_SOURCES = ("Halden Institute", "Norberg Commission", "Castellan Archive", "Weyland Registry")


def _states(text: str, value: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text) is not None


def _rotated(values: Sequence[str], seed: bytes, salt: bytes) -> list[str]:
    start = _pick(seed, salt, len(values))
    return [*values[start:], *values[:start]]


def _numbers_near(number: str) -> list[str]:
    """``number``, then others 10 apart written the same way."""
    if "." in number:
        return [f"{float(number) + 10 * n:g}" for n in range(50)]
    return [str(int(number) + 10 * n) for n in range(50)]


def _absent(candidates: Sequence[str], text: str) -> str:
    """The first of ``candidates`` that ``text`` does not state (the last if it states all)."""
    return next((c for c in candidates if not _states(text, c)), candidates[-1])


_SHAPED: dict[str, Callable[[str, str, bool, bytes], str | None]] = {
    "python": _python,
    "json": _json,
    "rag": _rag,
}
