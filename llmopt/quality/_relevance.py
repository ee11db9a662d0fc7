"""Is the answer about what was asked, and does the retrieved context back its claims.

Both compare texts, by embeddings when a model is at hand and by shared content words
otherwise; neither calls an LLM.

Relevance is the cosine similarity of the request's and the answer's embeddings, mapped
to 0..1: at or below :data:`UNRELATED_COSINE` (0.1) the texts are unrelated (score 0),
at or above :data:`RELATED_COSINE` (0.6) they are about the same thing (score 1),
linear in between (WordLlama gives about 0.85 for a question and its answer and under
0.1 for an unrelated pair). The embeddings default to
:func:`llmopt.embeddings.default_embeddings`; when that package is missing
(``ConfigError``), or with ``embeddings="lexical"``, the score is the share of the
request's content words the answer repeats, doubled and capped at 1 (an answer rarely
repeats more than half of the question), and the result says it is lexical.

Support (for RAG) splits the answer into sentences and finds the ones the context does
not back. A sentence is supported when at least :data:`SUPPORT_OVERLAP` (half) of its
content words occur in one context chunk, or, when embeddings are given, its cosine
with a sentence of the context is at least :data:`SUPPORT_COSINE` (0.7: WordLlama
accepts close paraphrases there, not loose ones). Either way every number it states must
appear in the context: "the refund window is 45 days" is not backed by "30 days",
however similar the two sentences are. Sentences with fewer than two content words
("Sure!") are not judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.embeddings import Embeddings

from llmopt.errors import ConfigError
from llmopt.quality._score import CheckResult
from llmopt.quality._text import content_words, message_text, numbers, sentences

UNRELATED_COSINE = 0.1
RELATED_COSINE = 0.6
SUPPORT_OVERLAP = 0.5
SUPPORT_COSINE = 0.7

EmbeddingsChoice = Embeddings | Literal["lexical"] | None


def resolve_embeddings(embeddings: EmbeddingsChoice) -> tuple[Embeddings | None, str | None]:
    """The embeddings to use and, when there are none, why (for the result's reason).

    ``None`` means llmopt's default model; ``"lexical"`` means none.
    """
    if embeddings == "lexical":
        return None, "lexical overlap was asked for"
    if embeddings is not None and not isinstance(embeddings, str):
        return embeddings, None
    from llmopt.embeddings import default_embeddings

    try:
        return default_embeddings(), None
    except ConfigError as exc:
        return None, f"lexical overlap, because no embedding model is available ({exc})"


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def check_relevance(request: Any, answer: Any, embeddings: EmbeddingsChoice = None) -> CheckResult:
    """How much ``answer`` is about ``request`` (texts, messages or message lists).

    See the module docstring for the scale. Errors of the embedding model propagate.
    """
    request_text, answer_text = message_text(request), message_text(answer)
    if not answer_text.strip():
        return CheckResult("relevance", 0.0, "the answer is empty", {"method": "none"})
    model, why_lexical = resolve_embeddings(embeddings)
    if model is not None:
        request_vector, answer_vector = model.embed_documents([request_text, answer_text])
        cosine = _cosine(request_vector, answer_vector)
        score = _clamp((cosine - UNRELATED_COSINE) / (RELATED_COSINE - UNRELATED_COSINE))
        return CheckResult(
            "relevance",
            round(score, 4),
            f"embedding similarity of answer to request is {cosine:.2f}",
            {"method": "embeddings", "cosine": round(cosine, 4)},
        )
    asked = content_words(request_text)
    if not asked:
        return CheckResult("relevance", 1.0, "the request has no content words to compare")
    shared = asked & content_words(answer_text)
    overlap = len(shared) / len(asked)
    return CheckResult(
        "relevance",
        round(_clamp(2 * overlap), 4),
        f"the answer repeats {len(shared)} of the request's {len(asked)} content words "
        f"({why_lexical})",
        {"method": "lexical", "overlap": round(overlap, 4)},
    )


def check_support(
    answer: Any,
    context: Sequence[str],
    *,
    embeddings: Embeddings | None = None,
) -> CheckResult:
    """The share of the answer's sentences that the ``context`` chunks back.

    ``details["unsupported"]`` lists the sentences that are not backed. Lexical unless
    ``embeddings`` is given (see the module docstring). With no context at all, every
    claim is unsupported.
    """
    claims = [s for s in sentences(message_text(answer)) if len(content_words(s)) >= 2]
    if not claims:
        return CheckResult("support", 1.0, "the answer makes no claims to check", {"claims": 0})
    chunks = [c for c in context if c.strip()]
    chunk_words = [content_words(c) for c in chunks]
    context_numbers = set().union(*(numbers(c) for c in chunks)) if chunks else set()
    claim_vectors: list[list[float]] = []
    chunk_vectors: list[list[float]] = []
    if embeddings is not None and chunks:
        # Sentence against sentence: a claim's cosine with a whole chunk is diluted by
        # the chunk's other sentences.
        context_sentences = [s for c in chunks for s in sentences(c)]
        vectors = embeddings.embed_documents(claims + context_sentences)
        claim_vectors, chunk_vectors = vectors[: len(claims)], vectors[len(claims) :]
    unsupported: list[str] = []
    for index, claim in enumerate(claims):
        words = content_words(claim)
        if not numbers(claim) <= context_numbers:
            unsupported.append(claim)
            continue
        best = max((len(words & cw) / len(words) for cw in chunk_words), default=0.0)
        if best >= SUPPORT_OVERLAP:
            continue
        if claim_vectors and any(
            _cosine(claim_vectors[index], v) >= SUPPORT_COSINE for v in chunk_vectors
        ):
            continue
        unsupported.append(claim)
    supported = len(claims) - len(unsupported)
    reason = (
        f"all {len(claims)} claims are backed by the context"
        if not unsupported
        else f"{len(unsupported)} of {len(claims)} claims are not backed by the context"
    )
    return CheckResult(
        "support",
        round(supported / len(claims), 4),
        reason,
        {
            "claims": len(claims),
            "unsupported": unsupported,
            "method": "embeddings" if claim_vectors else "lexical",
        },
    )
