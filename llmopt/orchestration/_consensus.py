"""Which of several answers to one request wins, and how many agreed with it.

Three ways, for three kinds of answer:

=========== ============================================ =============================
method      use it for                                   support is
=========== ============================================ =============================
majority    labels, numbers, JSON (compared canonically) the size of the equal group
similarity  free text (token-set Jaccard by default, or  the winner's cluster: answers
            any LangChain ``Embeddings``)                at least ``threshold`` alike
judge       answers no rule can compare; a chat model    1 (the judge's pick); its
            picks one by number                          call's cost is counted
=========== ============================================ =============================

Ties go to the entry asked first, so a caller who lists entries by preference gets
the preferred one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence

from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from llmopt.orchestration._records import CallRecord

Similarity = Callable[[str, str], float]

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


def normalise_answer(text: str) -> str:
    """The form under which two answers count as equal for a majority vote.

    JSON answers compare as canonical JSON (key order and spacing do not matter);
    other answers ignore case, surrounding space, runs of spaces and a final full stop.
    """
    stripped = text.strip()
    if stripped[:1] in '{["' or stripped in {"true", "false", "null"}:
        try:
            return json.dumps(json.loads(stripped), sort_keys=True, separators=(",", ":"))
        except ValueError:
            pass
    return _SPACE.sub(" ", stripped.casefold()).rstrip(".!").strip()


def jaccard_similarity(first: str, second: str) -> float:
    """Token-set Jaccard similarity of two texts, 0..1 (1.0 for two empty texts)."""
    a = set(_WORD.findall(first.casefold()))
    b = set(_WORD.findall(second.casefold()))
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def majority(answers: Sequence[CallRecord]) -> tuple[CallRecord, list[CallRecord], str]:
    """The largest group of equal answers (see :func:`normalise_answer`)."""
    groups: dict[str, list[CallRecord]] = {}
    for call in answers:
        groups.setdefault(normalise_answer(call.text), []).append(call)
    # dicts keep insertion order, so max() keeps the earliest group on a tie.
    winner = max(groups.values(), key=len)
    tied = sum(1 for group in groups.values() if len(group) == len(winner))
    why = f"{len(winner)} of {len(answers)} answers agree"
    if tied > 1:
        why += f"; {tied} groups tied, the first entry's group wins"
    return winner[0], winner, why


def similarity_matrix(
    texts: Sequence[str], similarity: Similarity | Embeddings | None
) -> list[list[float]]:
    """Pairwise similarity of ``texts``: a function's, or cosine of embeddings."""
    if isinstance(similarity, Embeddings):
        vectors = similarity.embed_documents(list(texts))
        return [[_cosine(a, b) for b in vectors] for a in vectors]
    measure = similarity or jaccard_similarity
    return [[measure(a, b) for b in texts] for a in texts]


def cluster(
    answers: Sequence[CallRecord], matrix: Sequence[Sequence[float]], threshold: float
) -> tuple[CallRecord, list[CallRecord], str]:
    """The answer with the most others at least ``threshold`` alike (its cluster); a
    tie goes to the larger summed similarity, then to the earlier entry."""
    best = max(
        range(len(answers)),
        key=lambda i: (
            sum(1 for value in matrix[i] if value >= threshold),
            sum(matrix[i]),
            -i,
        ),
    )
    members = [
        answers[j] for j, value in enumerate(matrix[best]) if value >= threshold or j == best
    ]
    why = (
        f"{len(members)} of {len(answers)} answers are at least {threshold:g} alike "
        f"(the winner is the one most like the others)"
    )
    return answers[best], members, why


def judge_prompt(
    request: Sequence[BaseMessage], answers: Sequence[CallRecord]
) -> list[BaseMessage]:
    """The messages asking a judge model to pick the best answer by its number."""
    asked = "\n".join(f"{message.type}: {message.text}" for message in request)
    listed = "\n\n".join(f"Answer {i}:\n{call.text}" for i, call in enumerate(answers, 1))
    return [
        SystemMessage(
            "You compare answers to one request and pick the best: correct, complete and "
            "to the point. Reply with the number of the best answer only."
        ),
        HumanMessage(f"Request:\n{asked}\n\n{listed}\n\nThe number of the best answer:"),
    ]


def judge_pick(reply: str, count: int) -> int | None:
    """The 0-based index the judge picked, or ``None`` when its reply names none."""
    found = re.search(r"\d+", reply)
    if found is None:
        return None
    number = int(found.group())
    return number - 1 if 1 <= number <= count else None


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norms if norms else 0.0
