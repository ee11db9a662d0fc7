"""Context assembly: the best chunks that fit a token budget, in a cacheable order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llmopt.retrieval._records import CONTEXT_ORDERS, ContextOrder, RetrievedContext, SearchHit

SEPARATOR = "\n\n"


def render_chunk(hit: SearchHit) -> str:
    """One chunk as it appears in the context: its source on a line, then its text."""
    return f"[{hit.chunk.source}]\n{hit.chunk.text}"


def assemble_context(
    hits: Sequence[SearchHit],
    *,
    max_tokens: int,
    count: Callable[[str], int],
    order: ContextOrder = "stable",
) -> RetrievedContext:
    """The most relevant ``hits`` (given best first) whose joined text fits ``max_tokens``.

    Chunks are taken greedily by relevance; one that does not fit is skipped and smaller
    ones after it may still go in. The whole text is counted after every addition, so a
    counter that is not additive can never push it over. ``order="stable"`` lays the
    chosen chunks out by (source, start offset) — a fixed document order, so the same
    chosen set always gives byte-identical text and a provider's prompt cache can reuse
    it across calls; ``"relevance"`` keeps the best first. Raises ``ValueError`` for an
    unknown order or a budget below 1.
    """
    if order not in CONTEXT_ORDERS:
        raise ValueError(f"order must be one of {', '.join(CONTEXT_ORDERS)}, got {order!r}")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    chosen: list[SearchHit] = []
    text, tokens = "", 0
    for hit in hits:
        trial = _laid_out([*chosen, hit], order)
        trial_text = SEPARATOR.join(render_chunk(h) for h in trial)
        trial_tokens = count(trial_text)
        if trial_tokens <= max_tokens:
            chosen, text, tokens = trial, trial_text, trial_tokens
    return RetrievedContext(
        text=text, hits=tuple(chosen), token_count=tokens, max_tokens=max_tokens, order=order
    )


def _laid_out(hits: list[SearchHit], order: ContextOrder) -> list[SearchHit]:
    if order == "relevance":
        return hits
    return sorted(hits, key=lambda hit: hit.chunk.stable_key())
