from __future__ import annotations

import pytest

from llmopt.quality import check_code, validate_json_schema

GOOD_PYTHON = """Here is the function:

```python
def mean(values: list[float]) -> float:
    return sum(values) / len(values)
```

It raises ZeroDivisionError on an empty list.
"""

BAD_PYTHON = """```python
def mean(values):
    return sum(values) / len(values
```
"""

SCHEMA = {
    "type": "object",
    "required": ["name", "tags"],
    "properties": {
        "name": {"type": "string"},
        "priority": {"enum": ["low", "high"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def test_it_accepts_a_python_block_that_parses_and_ignores_the_prose_around_it() -> None:
    result = check_code(GOOD_PYTHON, language="python")
    assert result.score == 1.0
    assert result.name == "code"


def test_it_reports_the_line_of_a_python_syntax_error() -> None:
    result = check_code(BAD_PYTHON, language="python")
    assert result.score == 0.0
    assert "line 2" in result.reason or "line 3" in result.reason


def test_it_scores_the_share_of_python_blocks_that_parse() -> None:
    result = check_code(GOOD_PYTHON + "\n" + BAD_PYTHON, language="python")
    assert result.score == 0.5


def test_it_gives_zero_when_an_answer_asked_for_python_holds_only_other_code() -> None:
    result = check_code("```js\nconsole.log(1)\n```", language="python")
    assert result.score == 0.0
    assert "no python code" in result.reason


def test_it_accepts_json_that_matches_the_schema() -> None:
    answer = '```json\n{"name": "deploy", "priority": "high", "tags": ["ops"]}\n```'
    assert check_code(answer, language="json", schema=SCHEMA).score == 1.0


def test_it_rejects_json_that_breaks_the_schema_and_says_where() -> None:
    answer = '{"name": 3, "priority": "urgent", "tags": ["ops", 4]}'
    result = check_code(answer, language="json", schema=SCHEMA)
    assert result.score == 0.0
    errors = result.details["errors"]
    assert any("$.name" in e for e in errors)
    assert any("urgent" in e for e in errors)
    assert any("$.tags[1]" in e for e in errors)


def test_it_rejects_text_that_is_not_json() -> None:
    result = check_code("{'name': 'deploy',}", language="json")
    assert result.score == 0.0
    assert "not valid JSON" in result.reason


@pytest.mark.parametrize(
    ("value", "schema", "ok"),
    [
        ({"a": 1}, {"required": ["b"]}, False),
        ({"a": 1}, {"properties": {"a": {"type": "integer"}}}, True),
        ({"a": 1.0}, {"properties": {"a": {"type": "integer"}}}, True),
        ({"a": True}, {"properties": {"a": {"type": "integer"}}}, False),
        ({"a": 1, "b": 2}, {"properties": {"a": {}}, "additionalProperties": False}, False),
        ([1, 2], {"type": "array", "minItems": 3}, False),
        (5, {"type": ["integer", "null"], "maximum": 4}, False),
        (None, {"type": ["integer", "null"]}, True),
    ],
)
def test_the_schema_validator_covers_the_documented_keywords(
    value: object, schema: dict[str, object], ok: bool
) -> None:
    assert (validate_json_schema(value, schema) == []) is ok


def test_a_sql_query_on_an_unknown_table_is_not_a_syntax_error() -> None:
    result = check_code(
        "```sql\nSELECT name, total FROM orders WHERE total > 100 ORDER BY total DESC;\n```",
        language="sql",
    )
    assert result.score == 1.0
    assert result.details["unknown_names"] == ["no such table: orders"]


def test_a_sql_syntax_error_fails_with_sqlites_message() -> None:
    result = check_code("SELECT name FROM orders WHERE total >;", language="sql")
    assert result.score == 0.0
    assert "syntax error" in result.reason


def test_each_sql_statement_is_checked_on_its_own() -> None:
    answer = "```sql\nCREATE TABLE t (id INTEGER PRIMARY KEY); SELEC * FROM t;\nSELECT 1\n```"
    result = check_code(answer, language="sql")
    assert result.details["statements"] == 3
    assert result.score == pytest.approx(2 / 3)
    assert "statement 2" in result.details["errors"][0]


def test_an_unfinished_sql_statement_fails() -> None:
    assert check_code("SELECT * FROM t WHERE", language="sql").score == 0.0


def test_it_refuses_a_language_it_cannot_check() -> None:
    with pytest.raises(ValueError, match="no code check"):
        check_code("x", language="rust")  # type: ignore[arg-type]
