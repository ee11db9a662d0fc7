"""Okapi BM25 over the chunks' text, kept incrementally in memory.

Written here rather than taken from a package: ``bm25s`` and ``rank-bm25`` (the
well-kept options) build a static index and must rebuild it to add or remove one
document, and SQLite's FTS5 ``bm25()`` — tried first — scores every row matching any
query word through a per-row callback, which took p50 150 ms at 100,000 chunks for
queries with common words. Here the postings live in numpy arrays: a query costs a few
vectorised operations per query term.

Layout: each chunk's (term id, term frequency) arrays; an inverted index over the
chunks present when it was last built (CSR: postings sorted by term id); and a *delta*
of chunks added since, indexed the same way in a small second index. A removed chunk
is masked out at once; both indexes are rebuilt only when a search finds the delta
grown past a sixteenth of the chunks, so bulk loading pays for one build.

Scoring is Lucene's BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df +
0.5)), never negative). Terms are lower-cased ``\\w+`` runs with Harman's S-stemmer
(plurals: "statements" → "statement"); runs of Chinese, Japanese or Korean characters,
written without spaces, become overlapping character pairs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Final

import numpy as np
import numpy.typing as npt

K1: Final = 1.2
B: Final = 0.75
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_MIN_DELTA = 256

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]


def terms(text: str) -> list[str]:
    """The text's BM25 terms, in order."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    if _CJK.search(lowered) is None:
        return [_stem(w) for w in words]
    found: list[str] = []
    for word in words:
        if _CJK.search(word):
            found.extend(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        else:
            found.append(_stem(word))
    return found


def term_counts(text: str) -> Counter[str]:
    """How often each term occurs in the text."""
    lowered = text.lower()
    if _CJK.search(lowered) is not None:
        return Counter(terms(text))
    counts: Counter[str] = Counter()
    for word, n in Counter(_WORD.findall(lowered)).items():
        counts[_stem(word)] += n
    return counts


_STEMS: dict[str, str] = {}


def _stem(word: str) -> str:
    stem = _STEMS.get(word)
    if stem is None:
        if len(_STEMS) > 500_000:  # a bound for endless vocabularies (ids, hashes)
            _STEMS.clear()
        stem = _STEMS[word] = _s_stem(word)
    return stem


def _s_stem(word: str) -> str:
    if len(word) <= 3 or not word.endswith("s"):
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if not word.endswith(("us", "ss")):
        return word[:-1]
    return word


class _Postings:
    """An inverted index over some chunks: postings sorted by term id."""

    def __init__(
        self, positions: Iterable[int], docs: list[tuple[Ints, Floats] | None], size: int
    ) -> None:
        chosen = [p for p in positions if docs[p] is not None]
        pairs = [docs[p] for p in chosen]
        if chosen:
            ids = np.concatenate([pair[0] for pair in pairs if pair is not None])
            tfs = np.concatenate([pair[1] for pair in pairs if pair is not None])
            lengths = [len(pair[0]) for pair in pairs if pair is not None]
            owners = np.repeat(np.asarray(chosen, dtype=np.int64), lengths)
        else:
            ids, owners = np.zeros(0, np.int64), np.zeros(0, np.int64)
            tfs = np.zeros(0, np.float32)
        order = np.argsort(ids, kind="stable")
        self.term_ids: Ints = ids[order]
        self.tf: Floats = tfs[order]
        self.owner: Ints = owners[order]
        self.covers = np.zeros(size, dtype=bool)
        self.covers[chosen] = True

    def of(self, term_id: int) -> tuple[Ints, Floats]:
        lo = int(np.searchsorted(self.term_ids, term_id, "left"))
        hi = int(np.searchsorted(self.term_ids, term_id, "right"))
        return self.owner[lo:hi], self.tf[lo:hi]


class BM25Statistics:
    """BM25 over chunks known by their position (a small integer, reusable once freed).

    The postings are rebuilt when a search finds more than ``rebuild_after`` chunks (or
    a sixteenth of all, if more) added since the last build. Not thread-safe: the
    owning index serialises calls.
    """

    def __init__(self, *, rebuild_after: int = _MIN_DELTA) -> None:
        self._rebuild_after = rebuild_after
        self._term_id: dict[str, int] = {}
        self._df: Ints = np.zeros(0, dtype=np.int64)
        self._docs: list[tuple[Ints, Floats] | None] = []
        self._length: Floats = np.zeros(0, dtype=np.float32)
        self._live = 0
        self._total_length = 0.0
        self._main: _Postings | None = None
        self._delta: set[int] = set()
        self._delta_postings: _Postings | None = None

    def add(self, position: int, text: str) -> None:
        """Index ``text`` as the chunk at ``position`` (which must be free)."""
        counts = term_counts(text)
        known = self._term_id
        ids = np.array([known.get(t) or self._id(t) for t in counts], dtype=np.int64)
        tfs = np.array(list(counts.values()), dtype=np.float32)
        while position >= len(self._docs):
            self._docs.append(None)
        if position >= len(self._length):
            grown = np.zeros(max(16, 2 * len(self._length), position + 1), dtype=np.float32)
            grown[: len(self._length)] = self._length
            self._length = grown
        self._docs[position] = (ids, tfs)
        self._length[position] = float(tfs.sum())
        self._df[ids] += 1  # ids are distinct within a chunk
        self._live += 1
        self._total_length += float(tfs.sum())
        if self._main is not None and position < len(self._main.covers):
            self._main.covers[position] = False
        self._delta.add(position)
        self._delta_postings = None

    def remove(self, position: int) -> None:
        """Forget the chunk at ``position``."""
        pair = self._docs[position]
        if pair is None:
            return
        self._df[pair[0]] -= 1
        self._docs[position] = None
        self._live -= 1
        self._total_length -= float(self._length[position])
        self._length[position] = 0
        if self._main is not None and position < len(self._main.covers):
            self._main.covers[position] = False
        if position in self._delta:
            self._delta.discard(position)
            self._delta_postings = None

    def search(
        self, query: str, allowed: npt.NDArray[np.bool_], limit: int
    ) -> list[tuple[int, float]]:
        """The ``limit`` best positions among ``allowed`` (best first) with their
        scores; chunks sharing no term with the query are left out."""
        query_ids = sorted({self._term_id[t] for t in terms(query) if t in self._term_id})
        if not query_ids or self._live == 0 or limit <= 0:
            return []
        indexes = self._indexes()
        size = len(self._docs)
        scores = np.zeros(size, dtype=np.float32)
        average = self._total_length / self._live
        for term_id in query_ids:
            df = int(self._df[term_id])
            if df <= 0:
                continue
            idf = math.log(1 + (self._live - df + 0.5) / (df + 0.5))
            for postings in indexes:
                owners, tf = postings.of(term_id)
                keep = postings.covers[owners] & allowed[owners]
                owners, tf = owners[keep], tf[keep]
                norm = K1 * (1 - B + B * self._length[owners] / average)
                scores[owners] += idf * tf * (K1 + 1) / (tf + norm)
        found = np.flatnonzero(scores > 0)
        if len(found) > limit:
            found = found[np.argpartition(-scores[found], limit - 1)[:limit]]
        return [(int(p), float(scores[p])) for p in found]

    def _indexes(self) -> list[_Postings]:
        size = len(self._docs)
        if self._main is None or len(self._delta) > max(self._rebuild_after, self._live // 16):
            self._main = _Postings(range(size), self._docs, size)
            self._delta = set()
            self._delta_postings = None
        if len(self._main.covers) < size:
            covers = np.zeros(size, dtype=bool)
            covers[: len(self._main.covers)] = self._main.covers
            self._main.covers = covers
        if not self._delta:
            return [self._main]
        if self._delta_postings is None:
            self._delta_postings = _Postings(sorted(self._delta), self._docs, size)
        return [self._main, self._delta_postings]

    def _id(self, term: str) -> int:
        found = self._term_id.get(term)
        if found is None:
            found = self._term_id[term] = len(self._term_id)
            if found >= len(self._df):
                grown = np.zeros(max(1024, 2 * len(self._df)), dtype=np.int64)
                grown[: len(self._df)] = self._df
                self._df = grown
        return found
