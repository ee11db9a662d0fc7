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


def ask_claude(sandbox: SandboxServer, model: str, texts: list[str]) -> list[str]:
    client = anthropic.Anthropic(base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0)
    replies = []
    for text in texts:
        reply = client.messages.create(
            model=model, max_tokens=256, messages=[{"role": "user", "content": text}]
        )
        replies.append(reply.content[0].text)  # type: ignore[union-attr]
    client.close()
    return replies


def python_block(text: str) -> str:
    found = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert found is not None, text
    return found.group(1)


def test_a_python_quiz_is_answered_with_a_function_or_with_code_that_does_not_parse(
    sandbox: SandboxServer,
) -> None:
    sandbox.set_skills({"claude-haiku-*": {"python": 0.0}, "claude-sonnet-*": {"python": 1.0}})
    texts = [f"Write solve() returning {n} * 3. [quiz python answer={3 * n}]" for n in range(30)]

    right = ask_claude(sandbox, "claude-sonnet-4-6", texts)
    wrong = ask_claude(sandbox, "claude-haiku-4-5", texts)

    for n, reply in enumerate(right):
        scope: dict[str, object] = {}
        exec(compile(python_block(reply), "<reply>", "exec"), scope)
        assert scope["solve"]() == 3 * n  # type: ignore[operator]
    flaws = set()
    for reply in wrong:
        with pytest.raises(SyntaxError) as raised:
            compile(python_block(reply), "<reply>", "exec")
        flaws.add(type(raised.value).__name__ + ": " + raised.value.msg.split(" (")[0])
    assert len(flaws) == 3, flaws  # a missing colon, an unclosed parenthesis, a bad indent


def test_a_json_quiz_is_answered_with_the_record_or_with_a_record_a_schema_rejects(
    sandbox: SandboxServer,
) -> None:
    import json

    sandbox.set_skills({"claude-haiku-*": {"json": 0.0}, "claude-sonnet-*": {"json": 1.0}})
    records = [{"name": f"Person {n}", "year": 1800 + n, "tags": ["a", "b"]} for n in range(30)]
    texts = [f"Extract the person. [quiz json answer={json.dumps(r)}]" for r in records]

    right = ask_claude(sandbox, "claude-sonnet-4-6", texts)
    wrong = ask_claude(sandbox, "claude-haiku-4-5", texts)

    def parsed(text: str) -> object:
        found = re.search(r"```json\n(.*?)```", text, re.DOTALL)
        return json.loads(found.group(1) if found else text)

    assert [parsed(reply) for reply in right] == records
    kinds = set()
    for record, reply in zip(records, wrong, strict=True):
        try:
            value = parsed(reply)
        except json.JSONDecodeError:
            kinds.add("not JSON")
            continue
        assert isinstance(value, dict)
        if set(value) != set(record):
            kinds.add("a field missing")
        else:
            assert [type(value[k]) for k in record] != [type(record[k]) for k in record]
            kinds.add("a wrong type")
    assert kinds == {"not JSON", "a field missing", "a wrong type"}


RAG_CONTEXT = (
    "Context: The Eiffel Tower was completed in 1889 and is 330 metres tall. "
    "Its design came from the company of Gustave Eiffel."
)


def test_a_rag_quiz_is_answered_by_quoting_the_context_or_with_a_claim_it_does_not_hold(
    sandbox: SandboxServer,
) -> None:
    sandbox.set_skills({"claude-haiku-*": {"rag": 0.0}, "claude-sonnet-*": {"rag": 1.0}})
    texts = [
        f"{RAG_CONTEXT}\nQuestion {n}: When was the tower completed? [quiz rag answer=1889]"
        for n in range(10)
    ] + [
        f"{RAG_CONTEXT}\nQuestion {n}: Whose company designed it? [quiz rag answer=Gustave Eiffel]"
        for n in range(10)
    ]

    right = ask_claude(sandbox, "claude-sonnet-4-6", texts)
    wrong = ask_claude(sandbox, "claude-haiku-4-5", texts)

    assert right[0] == (
        'According to the context: "The Eiffel Tower was completed in 1889 and is 330 metres tall."'
    )
    assert right[10] == (
        'According to the context: "Its design came from the company of Gustave Eiffel."'
    )
    for reply in wrong:
        assert "1889" not in reply and "Gustave Eiffel" not in reply, reply
        claimed = set(re.findall(r"\d+", reply))
        assert claimed and not claimed & set(re.findall(r"\d+", RAG_CONTEXT)), reply


def test_a_json_value_that_is_no_object_or_a_fact_the_context_lacks_gets_the_plain_reply(
    sandbox: SandboxServer,
) -> None:
    sandbox.set_skills({"claude-sonnet-*": {"*": 1.0}})

    replies = ask_claude(
        sandbox,
        "claude-sonnet-4-6",
        [
            'Extract it. [quiz json answer="Ada"]',
            "Extract it. [quiz json answer=Ada]",
            f"{RAG_CONTEXT}\nHow tall is it in feet? [quiz rag answer=1083]",
        ],
    )

    assert replies == ['The answer is "Ada".', "The answer is Ada.", "The answer is 1083."]
