"""BM25 kept incrementally scores exactly as one built from scratch."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from llmopt.retrieval._bm25 import BM25Statistics, terms

_WORDS = ["walrus", "walruses", "tea", "green", "birds", "bird", "python", "list", "the"]
_texts = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12).map(" ".join)
_steps = st.lists(st.tuples(st.integers(0, 30), st.one_of(st.none(), _texts)), max_size=120)


def _everything(size: int) -> np.ndarray:
    return np.ones(size + 64, dtype=bool)


@settings(max_examples=60, deadline=None)
@given(
    steps=_steps,
    query=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4),
    rebuild_after=st.sampled_from([0, 3, 256]),
)
def test_adds_and_removes_in_any_order_score_like_a_fresh_index(
    steps: list[tuple[int, str | None]], query: list[str], rebuild_after: int
) -> None:
    live: dict[int, str] = {}
    incremental = BM25Statistics(rebuild_after=rebuild_after)
    for n, (position, text) in enumerate(steps):
        if position in live:
            incremental.remove(position)
            del live[position]
        if text is not None:
            incremental.add(position, text)
            live[position] = text
        if n % 7 == 0:  # searching in between builds the postings at various moments
            incremental.search("walrus tea", _everything(40), 5)
    fresh = BM25Statistics()
    for position, text in sorted(live.items()):
        fresh.add(position, text)
    words = " ".join(query)
    got = dict(incremental.search(words, _everything(40), 100))
    expected = dict(fresh.search(words, _everything(40), 100))
    assert got.keys() == expected.keys()
    for position, score in expected.items():
        assert math.isclose(got[position], score, rel_tol=1e-5)


def test_rarer_words_weigh_more_and_shorter_chunks_win_ties() -> None:
    bm25 = BM25Statistics()
    bm25.add(0, "the walrus")
    bm25.add(1, "the tea")
    bm25.add(2, "the tea and a long list of other words about tea")
    bm25.add(3, "the end")
    found = bm25.search("walrus the", _everything(4), 4)
    ranked = [p for p, _ in sorted(found, key=lambda x: -x[1])]
    assert ranked[0] == 0
    tea = dict(bm25.search("tea", _everything(4), 4))
    assert set(tea) == {1, 2}


def test_only_allowed_chunks_are_scored() -> None:
    bm25 = BM25Statistics()
    bm25.add(0, "walrus")
    bm25.add(1, "walrus")
    allowed = np.array([False, True])
    assert [p for p, _ in bm25.search("walrus", allowed, 5)] == [1]


def test_terms_fold_plurals_and_pair_up_cjk_characters() -> None:
    assert terms("Statements, Queries and Walruses") == ["statement", "query", "and", "walruse"]
    assert terms("東京都に住む") == ["東京", "京都", "都に", "に住", "住む"]
    assert terms("class bus") == ["class", "bus"]
