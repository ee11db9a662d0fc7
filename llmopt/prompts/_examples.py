"""Few-shot examples and how the ones nearest a question are chosen.

An example is an :class:`Example`, an ``(input, output)`` pair or an ``{"input",
"output"}`` mapping. When a pool holds more examples than a prompt should carry, the
``k`` most similar to the question are chosen by a :class:`SimilarityScorer`:

=========================  ========================================================
scorer                     how similar
=========================  ========================================================
:class:`LexicalSimilarity`  cosine of word counts (stop words left out); the default:
                           no model, microseconds per example
:class:`EmbeddingSimilarity` cosine of the vectors of any LangChain ``Embeddings``;
                           each example is embedded once and remembered
=========================  ========================================================

Chosen examples come back in the pool's order, not by score, so two questions that
choose the same examples get the same bytes (and can share a cached prefix).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from llmopt.prompts._problems import invalid

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings


@dataclass(frozen=True, slots=True)
class Example:
    """One worked example: what was asked (``input``) and the answer to imitate
    (``output``). ``task`` limits it to one task's prompts (``None``: any task)."""

    input: str
    output: str
    task: str | None = None


def examples_of(examples: Iterable[Any], *, argument: str = "examples") -> list[Example]:
    """``examples`` as :class:`Example` s, in their order.

    Raises :class:`~llmopt.errors.ConfigError` (on ``argument``) for an example of
    another shape or with an empty input or output.
    """
    if isinstance(examples, (str, bytes, Mapping)):
        raise invalid(argument, f"{argument} must be a list of examples, not one example")
    found: list[Example] = []
    for index, example in enumerate(examples):
        where = f"{argument}[{index}]"
        task: Any = None
        if isinstance(example, Example):
            given, answer, task = example.input, example.output, example.task
        elif isinstance(example, tuple) and len(example) == 2:
            given, answer = example
        elif isinstance(example, Mapping) and "input" in example and "output" in example:
            given, answer, task = example["input"], example["output"], example.get("task")
        else:
            raise invalid(
                argument,
                f"{where} must be an Example, an (input, output) pair or an "
                f"{{'input', 'output'}} mapping, not {type(example).__name__}",
            )
        if not isinstance(given, str) or not isinstance(answer, str):
            raise invalid(argument, f"{where}: its input and output must be strings")
        if not given.strip() or not answer.strip():
            raise invalid(argument, f"{where} has an empty input or output")
        if task is not None and not isinstance(task, str):
            raise invalid(argument, f"{where}: its task must be a task name")
        found.append(Example(given.strip(), answer.strip(), task))
    return found


def render_examples(examples: Iterable[Example]) -> str:
    """The examples as one block of text, each in an ``<example>`` element."""
    parts = ["Examples of good answers:"]
    for example in examples:
        parts.append(
            f"<example>\n<input>\n{example.input}\n</input>\n"
            f"<output>\n{example.output}\n</output>\n</example>"
        )
    return "\n\n".join(parts)


@runtime_checkable
class SimilarityScorer(Protocol):
    """Scores how close each candidate text is to a query; higher is closer.

    Implement it to choose examples your own way; ``scores`` returns one number per
    candidate, in the candidates' order.
    """

    def scores(self, query: str, candidates: Sequence[str]) -> Sequence[float]: ...


_WORD = re.compile(r"\w+")
_STOP_WORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by do does for from has have how i in is it its of on or "
        "that the this to was what when where which who why will with you your",
    )
)


def _stem(word: str) -> str:
    # Plurals and third persons meet their singulars ("tables" and "table"); no more.
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=4_096)
def _word_vector(text: str) -> tuple[dict[str, int], float]:
    words = _WORD.findall(text.lower())
    counts = Counter(_stem(w) for w in words if w not in _STOP_WORDS)
    return dict(counts), math.sqrt(sum(n * n for n in counts.values()))


class LexicalSimilarity:
    """Cosine similarity of word counts (stop words left out, a plural ``s`` dropped):
    cheap and model-free.

    Good enough to tell a SQL question from a date question; it does not know that
    "car" and "automobile" are close (use :class:`EmbeddingSimilarity` for that).
    """

    def scores(self, query: str, candidates: Sequence[str]) -> list[float]:
        words, norm = _word_vector(query)
        result: list[float] = []
        for candidate in candidates:
            other, other_norm = _word_vector(candidate)
            if not norm or not other_norm:
                result.append(0.0)
                continue
            if len(other) < len(words):
                dot = sum(n * words.get(w, 0) for w, n in other.items())
            else:
                dot = sum(n * other.get(w, 0) for w, n in words.items())
            result.append(dot / (norm * other_norm))
        return result


class EmbeddingSimilarity:
    """Cosine similarity of vectors from any LangChain ``Embeddings``.

    Each candidate text is embedded once (``embed_documents``, in one call for all new
    ones) and remembered for the life of this object; each query is embedded with
    ``embed_query``. Errors of the embedding model propagate.
    """

    def __init__(self, embeddings: Embeddings) -> None:
        if not hasattr(embeddings, "embed_query") or not hasattr(embeddings, "embed_documents"):
            raise invalid(
                "embeddings",
                f"embeddings must be a LangChain Embeddings, not {type(embeddings).__name__}",
            )
        self.embeddings = embeddings
        self._known: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def scores(self, query: str, candidates: Sequence[str]) -> list[float]:
        with self._lock:
            missing = list(dict.fromkeys(c for c in candidates if c not in self._known))
        if missing:
            vectors = self.embeddings.embed_documents(missing)
            with self._lock:
                self._known.update(zip(missing, vectors, strict=True))
        target = self.embeddings.embed_query(query)
        return [_cosine(target, self._known[candidate]) for candidate in candidates]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def select_examples(
    question: str, pool: Sequence[Example], k: int, scorer: SimilarityScorer
) -> list[Example]:
    """The ``k`` examples of ``pool`` whose inputs are most similar to ``question``, in
    the pool's order (ties go to the earlier example). All of them when ``k`` covers
    the pool. Raises ``ValueError`` when the scorer gives the wrong number of scores."""
    if k >= len(pool):
        return list(pool)
    scores = list(scorer.scores(question, [example.input for example in pool]))
    if len(scores) != len(pool):
        raise ValueError(
            f"{type(scorer).__name__}.scores gave {len(scores)} scores for {len(pool)} examples"
        )
    ranked = sorted(range(len(pool)), key=lambda i: (-scores[i], i))
    return [pool[i] for i in sorted(ranked[:k])]
