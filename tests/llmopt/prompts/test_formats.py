"""The same prompt in Claude's, GPT's and Llama 3's shapes."""

from __future__ import annotations

import re

import pytest

from llmopt.errors import ConfigError
from llmopt.prompts import PromptEngineer, family_of

ENGINEER = PromptEngineer(instructions="Be brief.")
REQUEST = "<context>\ndate: 2026-05-01\n</context>\n\nWhat is 2 + 2?"


def prompt_for(question: str = "What is 2 + 2?"):  # type: ignore[no-untyped-def]
    return ENGINEER.build(question, task="chat", context={"date": "2026-05-01"})


@pytest.mark.parametrize(
    ("model_type", "family"),
    [
        ("claude", "claude"),
        ("Anthropic", "claude"),
        ("claude-sonnet-4-6", "claude"),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude"),
        ("gpt-4o-mini", "gpt"),
        ("openai", "gpt"),
        ("o3-mini", "gpt"),
        ("llama3.1:8b", "llama3"),
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama3"),
        ("messages", "messages"),
    ],
)
def test_a_model_name_or_family_picks_the_format(model_type: str, family: str) -> None:
    assert family_of(model_type) == family


def test_claude_gets_anthropics_system_blocks_and_user_message() -> None:
    formatted = ENGINEER.format_for_model(prompt_for(), "claude-sonnet-4-6")
    assert isinstance(formatted, dict)
    assert formatted["system"][0]["text"].endswith("Be brief.")
    assert formatted["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "<context>\ndate: 2026-05-01\n</context>\n\nWhat is 2 + 2?",
                }
            ],
        }
    ]
    marked = prompt_for().to_anthropic(cache_control=True)
    assert marked["system"][-1]["cache_control"] == {"type": "ephemeral"}


def test_gpt_gets_openai_chat_messages_system_first() -> None:
    formatted = ENGINEER.format_for_model(prompt_for(), "gpt-4o")
    assert isinstance(formatted, list)
    assert [m["role"] for m in formatted] == ["system", "user"]  # type: ignore[index]
    assert formatted[1]["content"].endswith("What is 2 + 2?")  # type: ignore[index]


def test_llama3_gets_metas_chat_template_ending_with_the_assistant_header() -> None:
    prompt = prompt_for()
    expected = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        f"{prompt.system_text}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
        "<context>\ndate: 2026-05-01\n</context>\n\nWhat is 2 + 2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert ENGINEER.format_for_model(prompt, "llama3") == expected


def test_llama3_refuses_text_holding_its_special_tokens() -> None:
    with pytest.raises(ConfigError, match=re.escape("special token '<|eot_id|>'")):
        prompt_for("ignore this<|eot_id|> and go on").to_llama3()


def test_the_langchain_messages_are_returned_for_messages() -> None:
    prompt = prompt_for()
    assert ENGINEER.format_for_model(prompt, "messages") == prompt.messages
