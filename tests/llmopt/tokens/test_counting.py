from __future__ import annotations

import base64
import hashlib
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import pytest
import tiktoken.load
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from llmopt.providers import TokenUsage
from llmopt.sandbox._tokens import text_tokens as sandbox_text_tokens
from llmopt.tokens import TokenCounter
from llmopt.tokens._tiktoken import ENCODING_FILES, EncodingFile

SONNET = "claude-sonnet-4-6"
TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city, now.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


def a_conversation() -> list[Any]:
    return [
        SystemMessage("You are a careful assistant; answer in one sentence."),
        HumanMessage("What's the weather in Paris, and should I take an umbrella?"),
        AIMessage(
            "Let me check.",
            tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "toolu_1"}],
        ),
        ToolMessage('{"sky": "rain", "celsius": 11}', tool_call_id="toolu_1"),
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this photo?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
            ],
        },
    ]


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tiktoken cache, and any attempt of tiktoken to fetch a file or of anything
    to open a connection fails the test."""

    def no_download(*args: object, **kwargs: object) -> bytes:
        raise AssertionError(f"tiktoken was asked to download {args}")

    def no_connection(*args: object, **kwargs: object) -> socket.socket:
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", no_download)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", no_download)
    monkeypatch.setattr(socket, "create_connection", no_connection)
    return tmp_path


@pytest.mark.parametrize("kind", ["prose", "code", "json", "non_english", "numbers"])
def test_the_estimate_is_the_sandboxs_count_on_real_text(
    corpus: dict[str, list[str]], kind: str
) -> None:
    samples = corpus[kind]
    if not samples:
        pytest.skip(f"no {kind} text installed here")
    counter = TokenCounter()
    assert [counter.count_tokens(text, SONNET) for text in samples] == [
        sandbox_text_tokens(text) for text in samples
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Prix\u00a0: 12\u00a0€ « net »",  # no-break spaces, Latin-1 punctuation
        "東京、大阪。「京都」？\u3000ｅｎｄ！",  # CJK and full-width punctuation, ideographic space
        "नमस्ते दुनिया। क्या हाल है?",  # Devanagari vowel signs, virama, danda
        "مَرْحَبًا، كَيْفَ حَالُكَ؟",  # Arabic vowel points, comma, question mark
        "Größe → 5 × 3 ≤ 20 ✓ — “quoted”…",  # arrows, maths, dashes, typographic quotes
        "ok 👍🏽 done 😀😀 𝐁𝐨𝐥𝐝 𠀀𠀁",  # emoji, a skin tone, mathematical letters, CJK Ext. B
        "who? what?¿ 日本?",  # the text's own "?" beside wide characters
        "a\ud800b \udfff",  # lone surrogates
        "ก้าวไปข้างหน้า",  # Thai tone and vowel marks
        "\x1c\x1d\x85x\u2028y\u200bz",  # separators, NEL, line separator, zero width space
    ],
)
def test_the_estimate_is_the_sandboxs_count_on_text_of_any_script(text: str) -> None:
    assert TokenCounter().count_tokens(text, SONNET) == sandbox_text_tokens(text)


# Characters of every kind; and text of one script's letters and marks, whose block gets
# a code page of its own.
_ANY_TEXT = st.text(st.characters() | st.sampled_from(" ?!_a\u00a0\u3000😀"))
_DEVANAGARI = st.characters(min_codepoint=0x0900, max_codepoint=0x097F)
_TEXT = _ANY_TEXT | st.text(_DEVANAGARI | st.sampled_from(" ?!a\u00a0😀"))


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_the_estimate_is_the_sandboxs_count_on_any_text(text: str) -> None:
    assert TokenCounter().count_tokens(text, SONNET) == sandbox_text_tokens(text)


def test_the_estimate_of_an_empty_text_is_zero() -> None:
    assert TokenCounter().count_tokens("", SONNET) == 0


def test_a_request_is_estimated_as_the_sandbox_counts_it(
    anthropic_client: anthropic.Anthropic,
) -> None:
    counter = TokenCounter(anthropic_client=anthropic_client)
    estimated = counter.count_messages(a_conversation(), SONNET, tools=TOOLS)
    exact = counter.count_messages(a_conversation(), SONNET, tools=TOOLS, exact=True)
    assert counter.method(SONNET, exact=True) == "endpoint"
    assert estimated == exact > 1_600  # the image alone is 1,600


def test_an_exact_text_count_leaves_out_the_requests_overheads(
    anthropic_client: anthropic.Anthropic,
) -> None:
    text = "Budgets are checked before the call, and settled after it."
    counter = TokenCounter(anthropic_client=anthropic_client)
    assert counter.count_tokens(text, SONNET, exact=True) == sandbox_text_tokens(text)


def test_an_exact_count_without_a_client_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="anthropic_client"):
        TokenCounter().count_tokens("hello", SONNET, exact=True)


def test_openai_counts_are_estimated_and_tiktoken_never_downloads(offline_cache: Path) -> None:
    counter = TokenCounter()
    assert counter.method("gpt-5.4-mini") == "estimate"
    assert counter.count_tokens("Hello, world!", "gpt-5.4-mini") == 4
    assert counter.count_messages(["Hello, world!"], "gpt-4o", provider="openAI") == 4 + 3 + 3
    with pytest.raises(ValueError, match="exactly"):
        counter.count_tokens("Hello", "gpt-4o", exact=True)
    assert list(offline_cache.iterdir()) == []


def test_a_cached_encoding_file_that_fails_its_hash_is_neither_used_nor_replaced(
    offline_cache: Path,
) -> None:
    url = ENCODING_FILES["o200k_base"].url
    planted = offline_cache / hashlib.sha1(url.encode()).hexdigest()
    planted.write_bytes(b"not the real file\n")
    counter = TokenCounter()
    assert counter.method("gpt-4o") == "estimate"
    assert planted.read_bytes() == b"not the real file\n"


def test_a_cached_encoding_file_gives_exact_openai_counts_offline(
    offline_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A byte-level vocabulary stands in for o200k (whose file is not on this machine):
    # its counts are the text's UTF-8 bytes, so they show the file was used.
    contents = b"".join(base64.b64encode(bytes([byte])) + b" %d\n" % byte for byte in range(256))
    real = ENCODING_FILES["o200k_base"]
    monkeypatch.setitem(
        ENCODING_FILES,
        "o200k_base",
        EncodingFile(real.url, hashlib.sha256(contents).hexdigest(), real.pattern, {}),
    )
    (offline_cache / hashlib.sha1(real.url.encode()).hexdigest()).write_bytes(contents)
    counter = TokenCounter()
    assert counter.method("gpt-4o", exact=True) == "tiktoken"
    assert counter.count_tokens("héllo", "gpt-4o") == 6
    assert counter.count_messages(["héllo"], "gpt-4o") == 6 + 3 + 3


def test_ollama_models_are_estimated_and_cannot_be_counted_exactly() -> None:
    counter = TokenCounter()
    assert counter.count_tokens("Hello, world!", "llama3.1") == 4
    with pytest.raises(ValueError, match="ollama"):
        counter.count_messages(["hi"], "llama3.1", exact=True)


def test_messages_in_openai_shape_count_their_tool_calls() -> None:
    counter = TokenCounter()
    plain = [{"role": "assistant", "content": "ok"}]
    with_call = [
        {
            "role": "assistant",
            "content": "ok",
            "tool_calls": [
                {"id": "c1", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
            ],
        }
    ]
    assert counter.count_messages(with_call, "gpt-4o") > counter.count_messages(plain, "gpt-4o")


def test_something_that_is_not_a_message_is_refused() -> None:
    with pytest.raises(TypeError, match="int"):
        TokenCounter().count_messages([42], SONNET)


def test_completion_tokens_come_from_the_reported_usage_when_there_is_one() -> None:
    counter = TokenCounter()
    reply = AIMessage(
        "one two three",
        usage_metadata={"input_tokens": 10, "output_tokens": 42, "total_tokens": 52},
    )
    assert counter.count_completion_tokens(reply, SONNET) == 42
    assert counter.count_completion_tokens({"usage": {"completion_tokens": 7}}, "gpt-4o") == 7
    assert counter.count_completion_tokens({"eval_count": 9}, "llama3.1") == 9


def test_completion_tokens_are_counted_from_the_text_without_usage() -> None:
    counter = TokenCounter()
    assert counter.count_completion_tokens(AIMessage("one two three."), SONNET) == 4
    ollama_reply = {"message": {"role": "assistant", "content": "a b"}}
    assert counter.count_completion_tokens(ollama_reply, "llama3.1") == 2


def test_costs_are_priced_by_the_providers_table_and_unknown_prices_are_none() -> None:
    counter = TokenCounter()
    cost = counter.estimate_cost(1_000_000, SONNET, output_tokens=1_000_000)
    assert cost == Decimal(18)  # $3 in, $15 out per million
    assert counter.estimate_cost(1_000, "no-such-model", provider="together") is None


def test_usage_is_added_up_per_model() -> None:
    counter = TokenCounter()
    counter.track_usage(SONNET, 1_000, output_tokens=100)
    counter.track_usage(SONNET, TokenUsage(input_tokens=500, cache_read_tokens=500))
    counter.track_usage("no-such-model", 10, provider="together")
    stats = counter.get_usage_stats()
    assert stats[SONNET].calls == 2
    assert stats[SONNET].input_tokens == 2_000
    assert stats[SONNET].output_tokens == 100
    assert stats[SONNET].cost_usd is not None and stats[SONNET].cost_usd > 0
    assert stats["no-such-model"].cost_usd is None
