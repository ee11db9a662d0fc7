"""The lexical guard refuses texts that embed alike but ask something else, and lets
true paraphrases through."""

from __future__ import annotations

import time

import pytest

from llmopt.responses._guard import DEFAULT_SIMILARITY_THRESHOLD, mismatch


@pytest.mark.parametrize(
    ("question", "stored", "reason"),
    [
        (
            "What changed in Python 3.11?",
            "What changed in Python 3.12?",
            "different numbers: 3.11 vs 3.12",
        ),
        ("How do I read 3 files?", "How do I read the files?", "different numbers: 3 vs none"),
        ("How do I read two files?", "How do I read three files?", "different numbers: 2 vs 3"),
        (
            "How many days are in ٣ weeks?",
            "How many days are in 4 weeks?",
            "different numbers: 3 vs 4",
        ),
        ("Why is -5 rejected?", "Why is 5 rejected?", "different numbers: -5 vs 5"),
        ("Can I delete a user?", "Can't I delete a user?", "negation differs"),
        ("Is the field required?", "Is the field not required?", "negation differs"),
        (
            "How do I log in with a password?",
            "How do I log in without a password?",
            "negation differs",
        ),
        ("Wie sortiere ich eine Liste?", "Wie sortiere ich keine Liste?", "negation differs"),
        ("Est-ce que le cache marche ?", "Est-ce que le cache ne marche pas ?", "negation differs"),
        ("如何排序列表？", "如何不排序列表？", "negation differs"),
        (
            "What is the capital of France?",
            "What is the capital of Germany?",
            "different names: France vs Germany",
        ),
        (
            "How do I use select_related()?",
            "How do I use prefetch_related()?",
            "different names: select_related() vs prefetch_related()",
        ),
        (
            "What does os.path.join do?",
            "What does os.path.split do?",
            "different names: os.path.join vs os.path.split",
        ),
        ("How do I parse JSON?", "How do I parse YAML?", "different names: JSON vs YAML"),
        (
            "How do I serialize a QuerySet?",
            "How do I serialize a list?",
            "different names: QuerySet vs none",
        ),
        (
            "How do I sort in ascending order?",
            "How do I sort in descending order?",
            "opposite words: ascending vs descending",
        ),
        (
            "How do I enable the cache?",
            "How do I disable the cache?",
            "opposite words: enable vs disable",
        ),
        ("Is the form valid?", "Is the form invalid?", "opposite words: valid vs invalid"),
        ("How do I log in?", "How do I log out?", "opposite words: in vs out"),
    ],
)
def test_it_names_the_difference_an_embedding_misses(
    question: str, stored: str, reason: str
) -> None:
    assert mismatch(question, stored) == reason
    assert mismatch(stored, question) is not None  # both ways round


@pytest.mark.parametrize(
    ("question", "stored"),
    [
        ("How do I sort a list in Python 3.11?", "What is the way to sort a list in Python 3.11?"),
        ("Can I use a custom user model?", "Is it possible to use a custom user model?"),
        ("How do I read two files?", "How do I read 2 files?"),
        ("How do I read twenty-five rows?", "How do I read 25 rows?"),
        ("How do I read 1,000 rows?", "How do I read 1000 rows?"),
        ("How many days are in ٣ weeks?", "How many days are in 3 weeks?"),
        ("How does one use select_related()?", "What is the way to use select_related()?"),
        ("Django's ORM: how do I filter?", "How do I filter in the Django ORM?"),
        ("In Django, how do I filter rows?", "How do I filter rows in Django?"),
        ("Should I cache it or not?", "Should I cache it?"),
        ("What is a QuerySet?", "What's a QuerySet?"),
        ("I don't see the page", "I do not see the page"),
        ("How do I open a file?", "How do I open a file?"),
    ],
)
def test_it_lets_a_paraphrase_through(question: str, stored: str) -> None:
    assert mismatch(question, stored) is None
    assert mismatch(stored, question) is None


def test_a_name_opening_a_sentence_is_not_mistaken_for_a_new_name() -> None:
    assert mismatch("Python lists: how do I sort them?", "How do I sort lists?") is None
    assert mismatch("How do I sort Python lists?", "How do I sort Ruby lists?") == (
        "different names: Python vs Ruby"
    )


def test_a_capitalised_word_on_one_side_only_is_not_a_difference_but_an_identifier_is() -> None:
    assert mismatch("How do I sort Python lists?", "How do I sort lists?") is None
    assert mismatch("How do I sort a QuerySet?", "How do I sort it?") is not None


def test_two_short_questions_are_checked_well_under_a_tenth_of_a_millisecond() -> None:
    pairs = [
        (f"How do I sort a list of {n} items in Python?", f"What is the way to sort {n} items?")
        for n in range(200)
    ]
    started = time.perf_counter()
    for question, stored in pairs:
        mismatch(question, stored)  # both texts new: nothing cached
    per_pair = (time.perf_counter() - started) / len(pairs)

    assert per_pair < 0.0005  # generous for a loaded CI machine; ~0.06 ms measured here


def test_the_default_threshold_is_a_similarity() -> None:
    assert 0.5 <= DEFAULT_SIMILARITY_THRESHOLD < 1.0
