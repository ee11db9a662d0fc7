"""Context assembly: within the budget, and byte-identical for the same chunks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmopt.retrieval import ContextRetriever, IndexedChunk, SearchHit, assemble_context
from llmopt.tokens import TokenCounter

from ._corpus import DOCS
from .conftest import CountingEmbeddings

_COUNTER = TokenCounter()
_MODEL = "claude-sonnet-4-6"


def _count(text: str) -> int:
    return _COUNTER.count_tokens(text, _MODEL)


def _hit(source: str, start: int, text: str, score: float) -> SearchHit:
    chunk = IndexedChunk(
        chunk_id=f"{source}#{start}",
        document_id=source,
        text=text,
        content_hash=text,
        metadata={"source": source, "start_index": start},
    )
    return SearchHit(chunk, score)


_hits = st.lists(
    st.builds(
        _hit,
        st.sampled_from(["a.md", "b.md", "c.md"]),
        st.integers(0, 10_000),
        st.text(min_size=1, max_size=300),
        st.floats(0, 1),
    ),
    max_size=12,
    unique_by=lambda h: h.chunk.chunk_id,
)


@settings(max_examples=60, deadline=None)
@given(hits=_hits, budget=st.integers(1, 400))
def test_the_context_never_exceeds_its_budget(hits: list[SearchHit], budget: int) -> None:
    context = assemble_context(hits, max_tokens=budget, count=_count)
    assert context.token_count == _count(context.text) <= budget


@settings(max_examples=60, deadline=None)
@given(hits=_hits)
def test_stable_order_gives_the_same_text_whatever_the_relevance_order(
    hits: list[SearchHit],
) -> None:
    forward = assemble_context(hits, max_tokens=100_000, count=_count)
    backward = assemble_context(hits[::-1], max_tokens=100_000, count=_count)
    assert forward.text == backward.text
    keys = [h.chunk.stable_key() for h in forward.hits]
    assert keys == sorted(keys)


def test_relevance_order_puts_the_best_chunk_first() -> None:
    hits = [_hit("z.md", 0, "best", 0.9), _hit("a.md", 0, "second", 0.5)]
    assert assemble_context(hits, max_tokens=100, count=_count, order="relevance").text.startswith(
        "[z.md]\nbest"
    )
    assert assemble_context(hits, max_tokens=100, count=_count).text.startswith("[a.md]\nsecond")


def test_a_chunk_too_big_is_skipped_and_smaller_ones_still_fit() -> None:
    hits = [_hit("a.md", 0, "x " * 500, 0.9), _hit("b.md", 0, "small", 0.5)]
    context = assemble_context(hits, max_tokens=20, count=_count)
    assert [h.chunk.source for h in context.hits] == ["b.md"]


def test_retrieve_context_fits_the_budget_and_reports_what_it_used(
    embeddings: CountingEmbeddings,
) -> None:
    retriever = ContextRetriever(":memory:", embeddings=embeddings)
    retriever.embed_and_index(DOCS)
    context = retriever.retrieve_context("walrus", max_tokens=40, top_k=5)
    assert 0 < context.token_count <= 40
    assert all(h.chunk.text in context.text for h in context.hits)
    assert retriever.retrieve_context("walrus", max_tokens=40, top_k=5).text == context.text


_SCRIPT = """
import sys
from llmopt.retrieval import ContextRetriever
sys.path.insert(0, {tests!r})
from _corpus import DOCS
from conftest import CountingEmbeddings
r = ContextRetriever(":memory:", embeddings=CountingEmbeddings())
r.embed_and_index(DOCS)
sys.stdout.write(r.retrieve_context("walrus tea penguins", max_tokens=200, top_k=6).text)
"""


@pytest.mark.parametrize("seeds", [("0", "1"), ("123", "random")])
def test_stable_context_is_byte_identical_across_processes_and_hash_seeds(
    seeds: tuple[str, str],
) -> None:
    tests = str(Path(__file__).parent)
    outputs = []
    for seed in seeds:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", _SCRIPT.format(tests=tests)],
            env=env,
            capture_output=True,
            check=True,
        )
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"[") >= 3
