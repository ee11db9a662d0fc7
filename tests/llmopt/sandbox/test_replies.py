from __future__ import annotations

import json
import random
import re
from datetime import date
from enum import Enum
from typing import Any, Literal

import anthropic
import pytest
from langchain_anthropic import ChatAnthropic
from pydantic import BaseModel, Field

from llmopt.sandbox import SandboxServer
from llmopt.sandbox._schema_values import value_for_schema

from .conftest import MODEL


class Colour(Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str = Field(min_length=3, max_length=40)
    postcode: str = Field(pattern=r"^\d{5}(-\d{4})?$")
    country: Literal["DE", "FR"] = "DE"


class Person(BaseModel):
    """Someone to write to."""

    name: str
    age: int = Field(ge=18, le=99)
    score: float = Field(gt=0, lt=1)
    even: int = Field(multiple_of=2, ge=3, le=9)
    favourite: Colour
    nicknames: list[str] = Field(default_factory=list, max_length=2)
    tags: set[str] = Field(min_length=1)
    address: Address
    previous: list[Address] = []
    born: date | None = None
    manager: Person | None = None
    notes: dict[str, int] = {}


def forced(client: anthropic.Anthropic, tool: dict[str, Any], **request: Any) -> Any:
    message = client.messages.create(
        model=MODEL,
        max_tokens=2_000,
        tools=[tool],
        tool_choice={"type": "tool", "name": tool["name"]},
        messages=[{"role": "user", "content": "Fill it in."}],
        **request,
    )
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use" and block.name == tool["name"]
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", block.id)
    return block.input


def test_a_forced_tool_call_satisfies_the_tools_schema(client: anthropic.Anthropic) -> None:
    # A recursive model's schema is a $ref; the API wants "type": "object" beside it.
    tool = {"name": "person", "input_schema": {**Person.model_json_schema(), "type": "object"}}

    arguments = forced(client, tool)

    person = Person.model_validate(arguments)
    assert person.manager is not None  # optional, recursive fields get values too


def test_a_forced_tool_call_is_the_same_for_the_same_request(client: anthropic.Anthropic) -> None:
    tool = {"name": "person", "input_schema": {**Person.model_json_schema(), "type": "object"}}

    assert forced(client, tool) == forced(client, tool)


def test_tool_choice_any_calls_a_defined_tool(client: anthropic.Anthropic) -> None:
    tools: Any = [
        {"name": name, "input_schema": {"type": "object", "properties": {}}}
        for name in ("alpha", "beta")
    ]

    message = client.messages.create(
        model=MODEL,
        max_tokens=100,
        tools=tools,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Do something."}],
    )

    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "tool_use" and message.content[0].name in {"alpha", "beta"}


def test_asking_to_call_a_tool_by_name_calls_it_and_its_result_gets_text(
    client: anthropic.Anthropic,
) -> None:
    tool: Any = {
        "name": "get_weather",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
    question: Any = {"role": "user", "content": "Please call get_weather for Paris."}

    call = client.messages.create(model=MODEL, max_tokens=100, tools=[tool], messages=[question])
    assert call.stop_reason == "tool_use" and call.content[0].type == "tool_use"
    answer = client.messages.create(
        model=MODEL,
        max_tokens=100,
        tools=[tool],
        messages=[
            question,
            {"role": "assistant", "content": [call.content[0].model_dump()]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.content[0].id, "content": "Sunny"}
                ],
            },
        ],
    )

    assert answer.content[0].type == "text"
    assert answer.stop_reason in {"end_turn", "max_tokens"}


def test_without_a_forced_or_named_tool_the_reply_is_text(client: anthropic.Anthropic) -> None:
    tool: Any = {"name": "get_weather", "input_schema": {"type": "object"}}

    message = client.messages.create(
        model=MODEL,
        max_tokens=100,
        tools=[tool],
        messages=[{"role": "user", "content": "How are you?"}],
    )

    assert message.content[0].type == "text"


def test_with_structured_output_works_end_to_end(sandbox: SandboxServer) -> None:
    model = ChatAnthropic(  # type: ignore[call-arg]
        model=MODEL, base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0
    )

    person = model.with_structured_output(Person).invoke("Describe someone.")

    assert isinstance(person, Person)
    assert 18 <= person.age <= 99 and person.favourite in Colour


def test_a_json_output_format_gets_json_that_satisfies_it(client: anthropic.Anthropic) -> None:
    schema = Address.model_json_schema()

    message = client.messages.create(
        model=MODEL,
        max_tokens=500,
        messages=[{"role": "user", "content": "An address, please."}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )

    assert message.content[0].type == "text"
    Address.model_validate(json.loads(message.content[0].text))


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "enum": ["a", "b"]},
        {"const": 7},
        {"type": ["integer", "null"], "exclusiveMinimum": 5, "exclusiveMaximum": 7},
        {"type": "number", "minimum": -1.5, "maximum": -1.25},
        {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": True},
        {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
        {"type": "string", "format": "uuid"},
        {"type": "string", "minLength": 30},
        {"allOf": [{"properties": {"a": {"type": "null"}}, "required": ["a"]}]},
        {"$ref": "#/$defs/x", "$defs": {"x": {"type": "boolean"}}},
    ],
)
def test_generated_values_satisfy_each_keyword(schema: dict[str, Any]) -> None:
    value = value_for_schema(schema, random.Random(3))
    # A tiny checker for exactly these schemas, to keep the test free of a validator.
    if "enum" in schema:
        assert value in schema["enum"]
    elif "const" in schema:
        assert value == 7
    elif "exclusiveMinimum" in schema:
        assert value == 6
    elif schema.get("type") == "number":
        assert -1.5 <= value <= -1.25
    elif "uniqueItems" in schema:
        assert sorted(value) == [False, True]
    elif "prefixItems" in schema:
        assert isinstance(value[0], int) and (len(value) < 2 or isinstance(value[1], str))
    elif schema.get("format") == "uuid":
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value
        )
    elif "minLength" in schema:
        assert len(value) >= 30
    elif "allOf" in schema:
        assert value == {"a": None}
    else:
        assert isinstance(value, bool)
