"""Strict, bounded input: every API operation that takes a body, found from the OpenAPI
schema, refuses what it does not declare, and writes nothing when it does.

For each such operation, as an operator with an API token: a value that is not a JSON
boolean for each boolean field, and not a JSON integer for each integer field, is 422
naming the field; an unknown top-level field is 422 naming it; a ``text/plain`` or form
body is 415; a body over the API's limit is 413; a free-text field too long or holding a
control or bidirectional-override character is 422 naming it. After each, the store's
documents, audit log and batches, the tokens and the users are as they were. The
management commands that take a reason or a name apply the same free-text rule.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from console.api import api
from console.web.body_limits import API_MAX_BODY_BYTES
from llmopt.config import REASON_MAX_LENGTH, REFUSED_CHARACTERS_PATTERN
from llmopt.killswitch import read_kill_switch, release_kill_switch
from llmopt.store import Store

from ..conftest import seed, user_in
from ..crawl import Operation, Site, operations, snapshot

pytestmark = pytest.mark.django_db

NOT_BOOLEANS = ["yes", "on", "1", "True", "true", 1, 0, None, [True], {"value": True}]
NOT_INTEGERS = ["5", "", True, 1.5, None, [5]]
BAD_TEXT = {
    "too long": "x" * (REASON_MAX_LENGTH + 1),
    "NUL": "ok\x00",
    "line break": "two\nlines",
    "escape sequence": "\x1b[2Jcleared",
    "C1 control": "next\x85line",
    "right-to-left override": "invoice\u202efdp.exe",
    "left-to-right isolate": "a\u2066b\u2069",
}
UNKNOWN_FIELD = {"configuration": {"apiKey": "sk-ant-planted"}}


def _schemas() -> dict[str, Any]:
    return api.get_openapi_schema()  # type: ignore[no-any-return]


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A body's object schema: ``$ref`` followed, an optional body's ``null`` dropped."""
    if "anyOf" in spec:
        [spec] = [s for s in spec["anyOf"] if s.get("type") != "null"]
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return schema["components"]["schemas"][name]  # type: ignore[no-any-return]
    return spec


def body_schemas() -> dict[str, dict[str, Any]]:
    """``"POST /api/kill-switch"`` -> the JSON schema of its body, for every body operation."""
    schema = _schemas()
    found = {}
    for template, methods in schema["paths"].items():
        for method, spec in methods.items():
            body = spec.get("requestBody")
            if body is not None:
                content = body["content"]["application/json"]["schema"]
                found[f"{method.upper()} {template}"] = _resolve(schema, content)
    return found


BODY_OPERATIONS = sorted(body_schemas())


def valid_body(body_schema: dict[str, Any]) -> dict[str, Any]:
    """Every property with a value of its type: the one changed value is then the only fault."""
    samples = {"boolean": False, "integer": 1, "string": "sweep", "object": {}, "array": []}
    body = {}
    for name, prop in body_schema.get("properties", {}).items():
        kind = prop.get("type") or next(
            (s.get("type") for s in prop.get("anyOf", []) if s.get("type") != "null"), "string"
        )
        body[name] = prop["enum"][0] if "enum" in prop else samples[kind]
    return body


def fields_of(body_schema: dict[str, Any], kind: str) -> list[str]:
    return [
        name
        for name, prop in body_schema.get("properties", {}).items()
        if prop.get("type") == kind or any(s.get("type") == kind for s in prop.get("anyOf", []))
    ]


def operation(site: Site, name: str) -> Operation:
    [found] = [op for op in operations(site.samples) if str(op) == name]
    return found


def send(site: Site, op: Operation, body: Any, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return getattr(Client(), op.method)(
        op.url,
        data,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {site.operator_token}",
    )


def refused_fields(response: Any) -> list[str]:
    return [problem["field"] for problem in response.json()["detail"]]


def test_the_sweep_reaches_every_operation_that_takes_a_body() -> None:
    assert {"POST /api/kill-switch", "PATCH /api/config/{key}"} <= set(BODY_OPERATIONS)


@pytest.mark.parametrize("name", BODY_OPERATIONS)
def test_every_body_schema_refuses_undeclared_fields_and_bounds_its_free_text(
    name: str,
) -> None:
    body_schema = body_schemas()[name]
    assert body_schema.get("additionalProperties") is False, name
    for field, prop in body_schema.get("properties", {}).items():
        if field == "reason":
            assert prop.get("maxLength") == REASON_MAX_LENGTH, (name, field)
            assert prop.get("pattern") == REFUSED_CHARACTERS_PATTERN, (name, field)


@pytest.mark.parametrize("name", BODY_OPERATIONS)
def test_a_value_that_is_not_a_json_boolean_or_integer_is_a_422_on_its_field(
    released_site: Site, name: str
) -> None:
    op, body_schema = operation(released_site, name), body_schemas()[name]
    before = snapshot(released_site.store)
    failures = []
    cases = [(f, v) for f in fields_of(body_schema, "boolean") for v in NOT_BOOLEANS]
    cases += [(f, v) for f in fields_of(body_schema, "integer") for v in NOT_INTEGERS]
    for field, value in cases:
        response = send(released_site, op, {**valid_body(body_schema), field: value})
        if response.status_code != 422 or field not in refused_fields(response):
            failures.append(f"{field}={value!r} → {response.status_code} {response.content!r}")
    assert failures == []
    assert snapshot(released_site.store) == before


@pytest.mark.parametrize("name", BODY_OPERATIONS)
def test_an_unknown_top_level_field_is_a_422_naming_it(released_site: Site, name: str) -> None:
    op, body_schema = operation(released_site, name), body_schemas()[name]
    before = snapshot(released_site.store)
    response = send(released_site, op, {**valid_body(body_schema), **UNKNOWN_FIELD})
    assert response.status_code == 422, response.content
    assert refused_fields(response) == ["configuration"]
    assert snapshot(released_site.store) == before


@pytest.mark.parametrize("name", BODY_OPERATIONS)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_that_is_not_declared_as_json_is_a_415(
    released_site: Site, name: str, content_type: str
) -> None:
    op, body_schema = operation(released_site, name), body_schemas()[name]
    before = snapshot(released_site.store)
    response = send(
        released_site, op, json.dumps(valid_body(body_schema)), content_type=content_type
    )
    assert response.status_code == 415, response.content
    assert "application/json" in response.json()["detail"]
    assert snapshot(released_site.store) == before


@pytest.mark.parametrize("name", BODY_OPERATIONS)
def test_a_body_over_the_limit_is_a_413_in_the_envelope(released_site: Site, name: str) -> None:
    op = operation(released_site, name)
    before = snapshot(released_site.store)
    padding = "x" * API_MAX_BODY_BYTES
    response = send(released_site, op, {"reason": padding})
    assert response.status_code == 413
    assert f"at most {API_MAX_BODY_BYTES:,}" in response.json()["detail"]
    assert snapshot(released_site.store) == before


@pytest.mark.parametrize("name", BODY_OPERATIONS)
def test_free_text_too_long_or_with_control_characters_is_a_422_on_its_field(
    released_site: Site, name: str
) -> None:
    op, body_schema = operation(released_site, name), body_schemas()[name]
    text_fields = [
        field for field, prop in body_schema.get("properties", {}).items() if "maxLength" in prop
    ]
    if not text_fields:
        pytest.skip(f"{name} takes no free text")
    before = snapshot(released_site.store)
    failures = []
    for field in text_fields:
        for what, value in BAD_TEXT.items():
            response = send(released_site, op, {**valid_body(body_schema), field: value})
            if response.status_code != 422 or refused_fields(response) != [field]:
                failures.append(f"{field} {what} → {response.status_code} {response.content!r}")
    assert failures == []
    assert snapshot(released_site.store) == before


def test_the_body_checks_come_after_the_route_so_a_wrong_path_is_still_a_404(
    released_site: Site,
) -> None:
    response = Client().post(
        "/api/no-such-thing",
        "engaged=true",
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {released_site.operator_token}",
    )
    assert response.status_code == 404


@pytest.mark.parametrize("value", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
def test_the_migrate_command_refuses_a_reason_the_rule_refuses(store: Store, value: str) -> None:
    seed(store)
    release_kill_switch(store, actor="setup")
    before = store.list_audit(limit=100)
    with pytest.raises(CommandError, match="--reason must"):
        call_command("llmopt_migrate", "--reason", value)
    assert store.list_audit(limit=100) == before


@pytest.mark.parametrize("value", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
def test_the_rollback_command_refuses_a_reason_the_rule_refuses(store: Store, value: str) -> None:
    release_kill_switch(store, actor="setup")
    with pytest.raises(CommandError, match="reason must"):
        call_command("llmopt_rollback", "--reason", value)
    assert read_kill_switch(store).engaged is False


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--name", "x" * 101),
        ("--name", "ci\u202ealerts"),
        ("--name", "ci\nalerts"),
    ],
)
def test_the_token_command_refuses_a_name_the_rule_refuses(
    store: Store, django_user_model: Any, option: str, value: str
) -> None:
    user = user_in(django_user_model, "operator")
    with pytest.raises(CommandError, match=f"{option} must"):
        call_command("llmopt_token", "create", "--user", user.get_username(), option, value)
    assert not user.api_tokens.exists()


@pytest.mark.parametrize("value", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
def test_the_token_command_refuses_a_revoke_reason_the_rule_refuses(
    store: Store, django_user_model: Any, value: str
) -> None:
    user = user_in(django_user_model, "operator")
    call_command("llmopt_token", "create", "--user", user.get_username(), "--name", "ci")
    args = ["revoke", "--user", user.get_username(), "--name", "ci", "--reason", value]
    with pytest.raises(CommandError, match="--reason must"):
        call_command("llmopt_token", *args)
    assert user.api_tokens.get().revoked_at is None
