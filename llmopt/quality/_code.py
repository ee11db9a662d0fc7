"""Does the code in an answer parse: Python, JSON (against a schema), SQL.

An answer that was asked to be code and does not parse is wrong however fluent it reads,
and parsing costs microseconds, so this check runs before any LLM judge. It checks
syntax only; it never runs the code.

=========  ===================================================================
language   what is checked
=========  ===================================================================
python     every fenced ```python (or ```py, or unlabelled) block, else the whole
           answer, compiles with ``ast.parse``
json       the fenced ```json block, else the whole answer, is JSON; with a
           ``schema``, it validates against it (``jsonschema`` when installed,
           else the subset described at :func:`validate_json_schema`)
sql        each statement of the fenced ```sql block, else of the whole answer,
           is prepared by SQLite (``EXPLAIN`` against an empty in-memory database)
=========  ===================================================================

SQL is checked in SQLite's dialect, against a database with no tables: "no such table",
"no such column" and "no such function" mean the statement parsed (the schema is not
known here), so they pass; "syntax error" and "incomplete input" fail. A construct only
another dialect accepts (PostgreSQL's ``::int`` casts, ``ILIKE``) fails too; the reason
names SQLite so a reader can tell.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import sqlite3
from collections.abc import Mapping
from typing import Any, Literal

from llmopt.quality._score import CheckResult

Language = Literal["python", "json", "sql"]

_ALIASES: dict[str, tuple[str, ...]] = {
    "python": ("python", "py", "python3", ""),
    "json": ("json", ""),
    "sql": ("sql", "sqlite", "postgresql", "postgres", "mysql", ""),
}
_BLOCK = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
# SQLite messages that mean the statement parsed but names an object that is not there.
_UNKNOWN_NAME = re.compile(r"^no such (table|column|function|collation sequence|module)")


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of ``text`` labelled ``language`` (or one of its aliases).

    Labelled blocks win over unlabelled ones; with no fenced block at all, the whole
    text is the code.
    """
    blocks = [(label.lower(), body) for label, body in _BLOCK.findall(text)]
    aliases = _ALIASES.get(language, (language,))
    labelled = [body for label, body in blocks if label and label in aliases]
    if labelled:
        return labelled
    unlabelled = [body for label, body in blocks if not label and "" in aliases]
    if unlabelled:
        return unlabelled
    if blocks:
        return []  # fenced code in another language only
    return [text]


def labelled_language(text: str) -> Language | None:
    """The language of the first fenced block of ``text`` labelled one that can be
    checked (```python, ```json, ```sql and their aliases), else ``None``."""
    for label, _ in _BLOCK.findall(text):
        label = label.lower()
        for language in ("python", "json", "sql"):
            if label and label in _ALIASES[language]:
                return language
    return None


def check_code(
    text: str, *, language: Language, schema: Mapping[str, Any] | None = None
) -> CheckResult:
    """Whether the ``language`` code in ``text`` parses (see the module table).

    Score 1 when every block parses, else the share that does (JSON: 0 or 1). Raises
    ``ValueError`` for a language it does not know.
    """
    if language == "python":
        return _check_python(text)
    if language == "json":
        return _check_json(text, schema)
    if language == "sql":
        return _check_sql(text)
    raise ValueError(f"no code check for {language!r}; use python, json or sql")


def _no_code(language: str) -> CheckResult:
    return CheckResult("code", 0.0, f"the answer holds no {language} code", {"language": language})


def _check_python(text: str) -> CheckResult:
    blocks = [b for b in code_blocks(text, "python") if b.strip()]
    if not blocks:
        return _no_code("python")
    errors: list[str] = []
    for index, block in enumerate(blocks, 1):
        try:
            ast.parse(block)
        except SyntaxError as exc:
            errors.append(f"block {index}, line {exc.lineno}: {exc.msg}")
    good = len(blocks) - len(errors)
    reason = (
        f"all {len(blocks)} Python block(s) parse"
        if not errors
        else f"{len(errors)} of {len(blocks)} Python block(s) do not parse: {errors[0]}"
    )
    details = {"language": "python", "blocks": len(blocks), "errors": errors}
    return CheckResult("code", good / len(blocks), reason, details)


def _check_json(text: str, schema: Mapping[str, Any] | None) -> CheckResult:
    blocks = [b for b in code_blocks(text, "json") if b.strip()]
    if not blocks:
        return _no_code("json")
    details: dict[str, Any] = {"language": "json", "schema": schema is not None}
    try:
        value = json.loads(blocks[0])
    except json.JSONDecodeError as exc:
        details["errors"] = [f"line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        return CheckResult("code", 0.0, f"not valid JSON: {exc.msg}", details)
    if schema is None:
        return CheckResult("code", 1.0, "valid JSON", details)
    problems = validate_json_schema(value, schema)
    details["errors"] = problems
    if problems:
        return CheckResult("code", 0.0, f"JSON does not match the schema: {problems[0]}", details)
    return CheckResult("code", 1.0, "valid JSON matching the schema", details)


def validate_json_schema(value: Any, schema: Mapping[str, Any]) -> list[str]:
    """The ways ``value`` breaks ``schema`` (empty when it conforms).

    Uses the ``jsonschema`` package when it is installed (full JSON Schema). Without it,
    a subset is checked, enough for the structured answers LLMs are asked for: ``type``
    (one or a list), ``required``, ``properties``, ``additionalProperties: false``,
    ``items``, ``enum``, ``const``, ``minItems``/``maxItems``, ``minimum``/``maximum``;
    other keywords are ignored.
    """
    try:
        # Imported by name: an optional package, absent from llmopt's dependencies.
        jsonschema: Any = importlib.import_module("jsonschema")
    except ModuleNotFoundError:
        return _subset_errors(value, schema, "$")
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    ]


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def _subset_errors(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is_type(value, n) for n in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} is less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} is more than {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors.extend(
            f"{path}: {name!r} is required"
            for name in schema.get("required", ())
            if name not in value
        )
        for name, item in value.items():
            if name in properties:
                errors.extend(_subset_errors(item, properties[name], f"{path}.{name}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property {name!r}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                errors.extend(_subset_errors(item, items, f"{path}[{index}]"))
    return errors


def sql_statements(code: str) -> list[str]:
    """``code`` split into complete statements (SQLite's own notion of "complete").

    A trailing statement without its ``;`` is kept, completed.
    """
    statements: list[str] = []
    current = ""
    for line in code.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.extend(_split_complete(current))
            current = ""
    if current.strip():
        statements.append(current.strip())
    return [s for s in statements if s.strip().rstrip(";").strip()]


def _split_complete(text: str) -> list[str]:
    # Several statements on one line: split at each ";" that completes a statement.
    pieces: list[str] = []
    current = ""
    for char in text:
        current += char
        if char == ";" and sqlite3.complete_statement(current):
            pieces.append(current.strip())
            current = ""
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _check_sql(text: str) -> CheckResult:
    statements = [s for block in code_blocks(text, "sql") for s in sql_statements(block)]
    if not statements:
        return _no_code("sql")
    errors: list[str] = []
    unknown: list[str] = []
    connection = sqlite3.connect(":memory:")
    try:
        for index, statement in enumerate(statements, 1):
            try:
                # EXPLAIN prepares (parses and plans) without running anything.
                connection.execute("EXPLAIN " + statement)
            except sqlite3.Error as exc:
                message = str(exc)
                if _UNKNOWN_NAME.match(message):
                    unknown.append(message)
                else:
                    errors.append(f"statement {index}: {message}")
    finally:
        connection.close()
    details = {"language": "sql", "statements": len(statements), "errors": errors}
    details["unknown_names"] = unknown
    if errors:
        reason = (
            f"{len(errors)} of {len(statements)} SQL statement(s) do not parse in SQLite's "
            f"dialect: {errors[0]}"
        )
    else:
        reason = f"all {len(statements)} SQL statement(s) parse"
        if unknown:
            reason += " (they name tables or columns not known here, which is not an error)"
    return CheckResult("code", (len(statements) - len(errors)) / len(statements), reason, details)
