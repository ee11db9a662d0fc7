from __future__ import annotations

from llmopt.embeddings import default_embeddings
from llmopt.quality import check_relevance, check_support

QUESTION = "How do I reverse a list in Python?"
CONTEXT = [
    "Our refund window is 30 days from delivery. Refunds go back to the original "
    "payment method within 5 business days.",
    "Shipping is free on orders over $50. Express shipping costs $12.",
]


def test_an_answer_on_topic_scores_far_above_an_unrelated_one() -> None:
    on_topic = check_relevance(QUESTION, "Call reversed() on the list, or slice it with [::-1].")
    off_topic = check_relevance(QUESTION, "The Eiffel Tower was finished in 1889 in Paris.")
    assert on_topic.details["method"] == "embeddings"
    assert on_topic.score > 0.5
    assert off_topic.score < 0.1


def test_lexical_relevance_is_used_when_asked_and_says_so() -> None:
    result = check_relevance(QUESTION, "Use reversed() to reverse the list.", embeddings="lexical")
    assert result.details["method"] == "lexical"
    assert "lexical" in result.reason
    assert result.score == 1.0
    unrelated = check_relevance(QUESTION, "Bananas are rich in potassium.", embeddings="lexical")
    assert unrelated.score == 0.0


def test_an_empty_answer_is_not_relevant() -> None:
    assert check_relevance(QUESTION, "  ").score == 0.0


def test_claims_backed_by_the_context_are_supported() -> None:
    answer = (
        "You can get a refund within 30 days of delivery. "
        "The money goes back to your original payment method."
    )
    result = check_support(answer, CONTEXT)
    assert result.score == 1.0
    assert result.details["unsupported"] == []


def test_an_invented_claim_is_reported_as_unsupported() -> None:
    answer = (
        "You can get a refund within 30 days of delivery. "
        "We also offer a lifetime warranty on every item."
    )
    result = check_support(answer, CONTEXT)
    assert result.score == 0.5
    assert result.details["unsupported"] == ["We also offer a lifetime warranty on every item."]


def test_a_wrong_number_is_unsupported_even_when_the_words_match() -> None:
    result = check_support("The refund window is 45 days from delivery.", CONTEXT)
    assert result.score == 0.0


def test_embeddings_accept_a_paraphrase_the_words_miss() -> None:
    answer = "Orders over fifty dollars ship for free."
    assert check_support(answer, CONTEXT).score == 0.0
    with_model = check_support(answer, CONTEXT, embeddings=default_embeddings())
    assert with_model.details["method"] == "embeddings"
    assert with_model.score == 1.0
    invented = "We also offer a lifetime warranty on every item."
    assert check_support(invented, CONTEXT, embeddings=default_embeddings()).score == 0.0


def test_without_context_every_claim_is_unsupported() -> None:
    assert check_support("Refunds take 30 days to arrive.", []).score == 0.0


def test_small_talk_makes_no_claims() -> None:
    result = check_support("Sure!", CONTEXT)
    assert result.score == 1.0
    assert result.details["claims"] == 0
