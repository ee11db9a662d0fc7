from __future__ import annotations

import hashlib
import importlib.util

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from llmopt.chunking import STRATEGIES, SemanticChunker, detect_language
from llmopt.tokens import TokenCounter

COUNTER = TokenCounter()


def tokens(text: str) -> int:
    return COUNTER.count_tokens(text, "claude-sonnet-4-6")


class TopicEmbeddings(Embeddings):
    """A stand-in model: a sentence about cooking points one way, anything else another."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] if "cook" in t.lower() else [0.0, 1.0] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def chunker(strategy: str, **options: object) -> SemanticChunker:
    if strategy == "semantic":
        options.setdefault("embeddings", TopicEmbeddings())
    return SemanticChunker(strategy, **options)  # type: ignore[arg-type]


def assert_well_formed(text: str, chunks: list[Document], max_tokens: int) -> None:
    for index, chunk in enumerate(chunks):
        meta = chunk.metadata
        assert chunk.page_content.strip()
        assert text[meta["start_index"] : meta["end_index"]] == chunk.page_content
        assert tokens(chunk.page_content) <= max_tokens
        assert meta["token_count"] == tokens(chunk.page_content)
        assert meta["chunk_index"] == index
        assert meta["content_hash"] == hashlib.sha256(chunk.page_content.encode()).hexdigest()


ENGLISH = (
    "Dr. Smith went to Washington. He met Mr. Jones at 3 p.m. on Jan. 5, e.g. at noon! "
    "Was it fun? Yes.\n\nThen they left for the U.S. embassy. It was closed."
)

MIXED_TEXT = st.text(
    alphabet=st.sampled_from(
        list("abc xyz.!?\n\t,#-`")
        + list("今天天气很好。我们！？")
        + list("これはペンです")
        + ["😀"]
    ),
    max_size=400,
)


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=MIXED_TEXT, max_tokens=st.integers(1, 30), overlap=st.integers(0, 10))
def test_every_chunk_fits_the_budget_and_is_its_exact_slice_of_the_text(
    strategy: str, text: str, max_tokens: int, overlap: int
) -> None:
    overlap = min(overlap, max_tokens - 1)
    chunks = chunker(strategy, max_tokens=max_tokens, overlap_tokens=overlap).split_text(text)

    assert_well_formed(text, chunks, max_tokens)
    if text.strip():
        assert chunks


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_without_overlap_the_chunks_cover_every_non_space_character_once(strategy: str) -> None:
    text = ENGLISH * 5
    chunks = chunker(strategy, max_tokens=12).split_text(text)

    covered = "".join(c.page_content for c in chunks)
    assert "".join(covered.split()) == "".join(text.split())
    starts = [c.metadata["start_index"] for c in chunks]
    assert starts == sorted(starts)


def test_english_sentences_are_not_cut_after_abbreviations() -> None:
    second = "He met Mr. Jones at 3 p.m. on Jan. 5, e.g. at noon!"
    chunks = SemanticChunker("sentences", max_tokens=tokens(second)).split_text(ENGLISH)

    assert [c.page_content for c in chunks][:2] == ["Dr. Smith went to Washington.", second]


@pytest.mark.parametrize(
    ("text", "language", "sentences"),
    [
        (
            "今天天气很好。我们去公园吧！你觉得呢？好的",
            "zh",
            ["今天天气很好。", "我们去公园吧！", "你觉得呢？", "好的"],
        ),
        (
            "これはペンです。あれは何ですか？わかりません！",
            "ja",
            ["これはペンです。", "あれは何ですか？", "わかりません！"],
        ),
    ],
)
def test_chinese_and_japanese_split_at_their_full_stops_without_spaces(
    text: str, language: str, sentences: list[str]
) -> None:
    chunks = SemanticChunker("sentences", max_tokens=2).split_text(text)  # 2 a sentence

    assert [c.page_content for c in chunks] == sentences
    assert {c.metadata["language"] for c in chunks} == {language}


def test_thai_without_sentence_punctuation_is_cut_by_the_budget_alone() -> None:
    thai = "วันนี้อากาศดี เราไปสวนสาธารณะกัน แล้วกินข้าว"  # one "sentence" for sentencex
    chunks = SemanticChunker("sentences", max_tokens=12).split_text(thai)

    assert len(chunks) > 1
    assert_well_formed(thai, chunks, 12)
    assert "".join(c.page_content for c in chunks).replace(" ", "") == thai.replace(" ", "")
    assert chunks[0].metadata["language"] == "th"


MARKDOWN = """# Guide

Intro paragraph.

## Install

- first item
  continued
- second item

```python
def f():

    return 1
```

### Notes

A note. Another note.

# Other

Last words.
"""


def test_structure_gives_each_chunk_the_headings_above_it_and_keeps_code_whole() -> None:
    chunks = SemanticChunker("structure", max_tokens=200).split_text(MARKDOWN, source="g.md")

    assert [(c.metadata["heading_path"], c.page_content.splitlines()[0]) for c in chunks] == [
        (["Guide"], "# Guide"),
        (["Guide", "Install"], "## Install"),
        (["Guide", "Install", "Notes"], "### Notes"),
        (["Other"], "# Other"),
    ]
    assert "```python\ndef f():\n\n    return 1\n```" in chunks[1].page_content
    assert {c.metadata["source"] for c in chunks} == {"g.md"}


def test_structure_keeps_a_code_block_whole_when_it_fits_on_its_own() -> None:
    code = "```python\ndef f():\n\n    return 1\n```"
    chunks = SemanticChunker("structure", max_tokens=tokens(code)).split_text(MARKDOWN)

    assert [c.page_content for c in chunks if "def f" in c.page_content] == [code]
    assert_well_formed(MARKDOWN, chunks, tokens(code))


def test_a_heading_inside_a_code_block_is_not_a_heading() -> None:
    text = "# Real\n\n```\n# not a heading\n```\n\ntext"
    chunks = SemanticChunker("structure").split_text(text)

    assert [c.metadata["heading_path"] for c in chunks] == [["Real"]]


def test_window_repeats_the_overlap_at_the_start_of_the_next_window() -> None:
    text = " ".join(f"w{i}" for i in range(20))
    chunks = SemanticChunker("window", max_tokens=5, overlap_tokens=2).split_text(text)

    assert [c.page_content for c in chunks][:3] == [
        "w0 w1 w2 w3 w4",
        "w3 w4 w5 w6 w7",
        "w6 w7 w8 w9 w10",
    ]


def test_semantic_cuts_where_the_topic_changes() -> None:
    cooking = "Cook the onions slowly. Cooking rice needs water. A cook tastes as she goes. "
    space = "The rocket left orbit. Mars is a red planet. Stars are far away."
    chunks = chunker("semantic", max_tokens=500).split_text(cooking * 2 + space)

    assert [c.page_content for c in chunks] == [(cooking * 2).strip(), space]


@pytest.mark.skipif(
    importlib.util.find_spec("wordllama") is None, reason="needs llmopt[embeddings] (WordLlama)"
)
def test_semantic_with_wordllama_cuts_between_two_different_topics() -> None:
    cooking = (
        "Chop the onions and fry them in butter until golden. "
        "Add the garlic, the tomatoes and a pinch of salt. "
        "Let the sauce simmer for twenty minutes, stirring often. "
        "Boil the pasta in plenty of salted water. "
        "Drain the pasta and toss it with the sauce and grated cheese. "
    )
    astronomy = (
        "The telescope observed a distant galaxy full of stars. "
        "Planets orbit their star under the pull of gravity. "
        "A supernova is the explosion of a massive dying star. "
        "Astronomers measure the light of galaxies billions of years old. "
        "The orbit of the comet brings it near the sun every century."
    )
    text = cooking + astronomy
    chunks = SemanticChunker("semantic", max_tokens=500, semantic_percentile=10).split_text(text)

    boundaries = {c.metadata["start_index"] for c in chunks}
    assert len(cooking) in boundaries
    assert len(chunks) <= 3


def test_metadata_of_split_documents_keeps_the_documents_own() -> None:
    docs = [Document(page_content=ENGLISH, metadata={"source": "a.txt", "lang_hint": "x"})]
    chunks = SemanticChunker("sentences", max_tokens=20).split_documents(docs)

    assert chunks[0].metadata["source"] == "a.txt"
    assert chunks[0].metadata["lang_hint"] == "x"
    assert chunks[0].metadata["strategy"] == "sentences"
    assert chunks == SemanticChunker("sentences", max_tokens=20).transform_documents(docs)


def test_the_design_names_are_aliases_with_the_designs_shape() -> None:
    base = SemanticChunker("sentences", max_tokens=100, embeddings=TopicEmbeddings())

    small = base.chunk_document(ENGLISH, 10)
    assert all(c.metadata["token_count"] <= 10 for c in small)
    assert base.chunk_document(ENGLISH) == base.split_text(ENGLISH)
    assert base.chunk_by_structure(MARKDOWN)[0].metadata["strategy"] == "structure"
    assert base.chunk_by_meaning(ENGLISH)[0].metadata["strategy"] == "semantic"
    assert base.get_embeddings(["cook", small[0]]) == [[1.0, 0.0], [0.0, 1.0]]


def test_blank_text_has_no_chunks() -> None:
    assert SemanticChunker("characters").split_text(" \n\n\t ") == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "words"}, "choose one of characters, sentences, paragraphs, structure"),
        ({"max_tokens": 0}, "max_tokens must be a positive integer"),
        ({"max_tokens": -3}, "max_tokens must be a positive integer"),
        ({"max_tokens": True}, "max_tokens must be a positive integer"),
        ({"max_tokens": 10, "overlap_tokens": 10}, "overlap_tokens must be an integer from 0"),
        ({"overlap_tokens": -1}, "overlap_tokens must be an integer from 0"),
        ({"semantic_percentile": 0}, "semantic_percentile must be between 0 and 100"),
    ],
)
def test_it_rejects_bad_arguments_with_a_clear_message(
    options: dict[str, object], message: str
) -> None:
    strategy = str(options.pop("strategy", "structure"))
    with pytest.raises(ValueError, match=message):
        SemanticChunker(strategy, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The cat is on the mat and it is fine.", "en"),
        ("Le chat est dans la maison et les enfants sont là.", "fr"),
        ("Der Hund ist nicht mit der Katze und das ist gut.", "de"),
        ("今天天气很好。", "zh"),
        ("これはペンです。", "ja"),
        ("안녕하세요", "ko"),
        ("Привет мир", "ru"),
        ("123 !!", "und"),
    ],
)
def test_the_language_is_guessed_from_the_script(text: str, code: str) -> None:
    assert detect_language(text) == code
