"""Scripted skill: quizzes answered right as often as each model's accuracy says."""

from __future__ import annotations

import re
from collections.abc import Iterator

import anthropic
import pytest
from langchain_ollama import ChatOllama
from openai import OpenAI

from llmopt.sandbox import SandboxServer, running_sandbox


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


def quiz(number: int) -> str:
    return f"What is {number} + {number}? [quiz arithmetic answer={2 * number}]"


def right(text: str, number: int) -> bool:
    found = re.search(r"The answer is (\S+)\.", text)
    assert found is not None, text
    return found.group(1) == str(2 * number)


def test_each_model_answers_as_often_right_as_scripted(sandbox: SandboxServer) -> None:
    sandbox.set_skills({"claude-haiku-*": {"arithmetic": 0.6}, "claude-sonnet-*": {"*": 0.95}})
    client = anthropic.Anthropic(base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0)

    def share_right(model: str) -> float:
        hits = 0
        for number in range(200):
            reply = client.messages.create(
                model=model, max_tokens=32, messages=[{"role": "user", "content": quiz(number)}]
            )
            hits += right(reply.content[0].text, number)  # type: ignore[union-attr]
        return hits / 200

    haiku, sonnet = share_right("claude-haiku-4-5"), share_right("claude-sonnet-4-6")

    assert 0.5 <= haiku <= 0.7
    assert sonnet >= 0.9
    client.close()


def test_the_same_request_gets_the_same_answer_and_unscripted_models_are_right(
    sandbox: SandboxServer,
) -> None:
    sandbox.set_skills({"claude-haiku-*": {"*": 0.5}})
    client = anthropic.Anthropic(base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0)

    def ask(model: str, number: int) -> str:
        reply = client.messages.create(
            model=model, max_tokens=32, messages=[{"role": "user", "content": quiz(number)}]
        )
        return reply.content[0].text  # type: ignore[union-attr]

    assert [ask("claude-haiku-4-5", n) for n in range(20)] == [
        ask("claude-haiku-4-5", n) for n in range(20)
    ]
    assert all(right(ask("claude-opus-4-5", n), n) for n in range(20))
    client.close()


def test_openai_and_ollama_stand_ins_follow_the_script(sandbox: SandboxServer) -> None:
    sandbox.set_skills({"gpt-5.4-mini": {"arithmetic": 0.0}, "llama3.1:8b": {"arithmetic": 1.0}})
    openai = OpenAI(base_url=f"{sandbox.base_url}/v1", api_key="sk-sandbox", max_retries=0)
    answer = openai.chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": quiz(7)}]
    )
    local = ChatOllama(model="llama3.1:8b", base_url=sandbox.base_url)

    assert not right(answer.choices[0].message.content or "", 7)
    assert right(str(local.invoke(quiz(7)).content), 7)
    openai.close()
    local._client._client.close()


def test_an_accuracy_outside_zero_to_one_is_refused(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="not in 0..1"):
        sandbox.set_skills({"claude-*": {"arithmetic": 1.5}})


def test_skills_are_scripted_over_http_too_and_reset_clears_them(sandbox: SandboxServer) -> None:
    import httpx

    with httpx.Client(base_url=sandbox.base_url) as http:
        set_response = http.post("/_sandbox/skills", json={"claude-haiku-*": {"*": 0.0}})
        bad = http.post("/_sandbox/skills", json={"claude-haiku-*": {"*": "often"}})
        shown = http.get("/_sandbox/skills").json()
        client = anthropic.Anthropic(base_url=sandbox.base_url, api_key=sandbox.api_key)
        reply = client.messages.create(
            model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": quiz(3)}]
        )
        http.post("/_sandbox/reset")
        after_reset = http.get("/_sandbox/skills").json()
        client.close()

    assert set_response.status_code == 200
    assert bad.status_code == 400 and "is not a number" in bad.json()["error"]["message"]
    assert shown == {"claude-haiku-*": {"*": 0.0}}  # the bad table changed nothing
    assert not right(reply.content[0].text, 3)  # type: ignore[union-attr]
    assert after_reset == {}
